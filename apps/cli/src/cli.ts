// Command registry and dispatch of the `flowturbo` CLI: parsing, --help, --json, exit codes.
import { parseArgs, type ParseArgsConfig } from "node:util";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface CommandContext {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  json: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  examples: string[];
  options: Options;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** Exit codes: 0 ok, 1 failure of the job itself, 2 usage error (bad flag/argument). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** An error the user can act on: printed without a stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
}

const GLOBAL_OPTIONS: Options = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
};

function optionHelp(options: Options): string {
  return Object.entries(options)
    .map(
      ([name, o]) => `  --${name}${o.type === "string" ? " <value>" : ""}${o.short ? `, -${o.short}` : ""}`,
    )
    .join("\n");
}

export function commandHelp(c: Command): string {
  return [
    `flowturbo ${c.name}: ${c.summary}`,
    "",
    `usage: ${c.usage}`,
    "",
    "options:",
    optionHelp({ ...c.options, ...GLOBAL_OPTIONS }),
    "",
    "examples:",
    ...c.examples.map((e) => `  ${e}`),
  ].join("\n");
}

export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "flowturbo: fast flow-based image generation (FlowTurbo) on ONNX Runtime",
    "",
    "usage: flowturbo <command> [options]",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `flowturbo <command> --help` for options and examples.",
  ].join("\n");
}

export async function runCli(
  argv: readonly string[],
  commands: readonly Command[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(`${mainHelp(commands)}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(
      `flowturbo: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(", ")}\n`,
    );
    return EXIT.usage;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, ...GLOBAL_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    io.stderr.write(
      `flowturbo ${name}: ${(e as Error).message}\nRun \`flowturbo ${name} --help\` for usage.\n`,
    );
    return EXIT.usage;
  }
  if (parsed.values.help) {
    io.stdout.write(`${commandHelp(command)}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run({
      values: parsed.values as CommandContext["values"],
      positionals: parsed.positionals,
      json: parsed.values.json === true,
      stdout: io.stdout,
      stderr: io.stderr,
    });
  } catch (e) {
    const err = e as Error;
    io.stderr.write(`flowturbo ${name}: ${err instanceof UsageError ? "" : "error: "}${err.message}\n`);
    return err instanceof UsageError ? EXIT.usage : EXIT.failure;
  }
}
