// Command registry and dispatch of the `flowturbo` CLI: parsing, --help, --json, exit codes.
import { parseArgs, type ParseArgsConfig } from "node:util";

/** One option: how it parses, and what --help says about it. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** The value's placeholder in --help (string options; default VALUE). */
  value?: string;
  /** What the option does. */
  help: string;
  /** What is used when the option is absent, as --help shows it (a function: worked out when help is shown). */
  default?: string | (() => string);
}

export type Options = Record<string, OptionSpec>;

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
  /** Most positional arguments the command takes (default 0); more are a usage error. */
  positionals?: number;
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
  help: { type: "boolean", short: "h", help: "this help" },
  json: { type: "boolean", help: "print the result as one JSON line on stdout" },
};

/** One line per option: the flag, its value, what it does and its default, aligned. */
function optionHelp(options: Options): string {
  const flags = Object.entries(options).map(
    ([name, o]) =>
      `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`,
  );
  const width = Math.min(32, Math.max(...flags.map((f) => f.length)));
  return Object.values(options)
    .map((o, i) => {
      const fallback = typeof o.default === "function" ? o.default() : o.default;
      const text = `${o.help}${fallback === undefined ? "" : ` (default: ${fallback})`}`;
      const flag = flags[i];
      return flag.length > width
        ? `  ${flag}\n  ${" ".repeat(width)}  ${text}`
        : `  ${flag.padEnd(width)}  ${text}`;
    })
    .join("\n");
}

/** parseArgs' view of the options (type and short name only). */
function parseConfig(options: Options): NonNullable<ParseArgsConfig["options"]> {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      o.short ? { type: o.type, short: o.short } : { type: o.type },
    ]),
  );
}

/** Terminal control sequences (colours in ONNX Runtime's messages) and other control characters. */
function plainText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
}

/**
 * What no command accepts: more positional arguments than it takes (they would be ignored) and empty
 * option values (`--cfg ''` would otherwise read as 0).
 */
function refuseIgnoredInput(command: Command, values: Record<string, unknown>, positionals: string[]): void {
  const max = command.positionals ?? 0;
  if (positionals.length > max)
    throw new UsageError(
      `unexpected argument${positionals.length - max > 1 ? "s" : ""} ${positionals
        .slice(max)
        .map((p) => `'${p}'`)
        .join(
          ", ",
        )} (${max === 0 ? "this command takes only options" : `this command takes at most ${max}`}; see --help)`,
    );
  for (const [name, value] of Object.entries(values))
    if (typeof value === "string" && value.trim() === "")
      throw new UsageError(`--${name}: empty value (give a value, or leave the option out for its default)`);
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
      options: parseConfig({ ...command.options, ...GLOBAL_OPTIONS }),
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
    refuseIgnoredInput(command, parsed.values, parsed.positionals);
    return await command.run({
      values: parsed.values as CommandContext["values"],
      positionals: parsed.positionals,
      json: parsed.values.json === true,
      stdout: io.stdout,
      stderr: io.stderr,
    });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const usage = err instanceof UsageError;
    io.stderr.write(`flowturbo ${name}: ${usage ? "" : "error: "}${plainText(err.message)}\n`);
    return usage ? EXIT.usage : EXIT.failure;
  }
}
