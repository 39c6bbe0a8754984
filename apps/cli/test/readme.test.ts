// The README's commands, run as a new user would on a machine that has none of the ImageNet files: each
// one either works or stops with a usage error (exit 2) that names the missing file or the bad flag,
// never a stack trace. Commands that write images are pointed at a temporary folder.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

const README = join(import.meta.dirname, "..", "..", "..", "README.md");

/** `pnpm flowturbo ...` lines of the README (code blocks with \ continuations, and inline code). */
export function readmeCommands(text: string): string[][] {
  const out: string[] = [];
  const joined = text.replace(/\\\n\s*/g, " ");
  for (const m of joined.matchAll(/pnpm flowturbo ([^`\n#]*)/g)) out.push(m[1].trim());
  return [...new Set(out)].map((c) => (c === "" ? [] : c.split(/\s+/)));
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "flowturbo-readme-"));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** -o FILE -> the same name in the temporary folder (the main job writes samples.png when none is given). */
function redirect(args: string[]): string[] {
  const a = args.map((x, i) => (args[i - 1] === "-o" ? join(tmp, x) : x));
  if (a[0] === "sample" && !a.includes("-o")) a.push("-o", join(tmp, "samples.png"));
  return a;
}

describe("README commands on a fresh machine", async () => {
  const commands = readmeCommands(await readFile(README, "utf8"));
  test("the README has the commands this test expects", () => {
    const names = commands.map((c) => c[0]);
    for (const c of ["sample", "doctor", "models", "convert"]) expect(names).toContain(c);
  });
  test.each(commands.map((c) => [c.join(" "), c]))("flowturbo %s", async (_, args) => {
    const argv = redirect(args as string[]);
    const r = await cli(...argv);
    expect(r.err).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
    // the files the command reads (not its -o outputs): ImageNet files a fresh machine does not have
    const named = argv
      .filter((a, i) => argv[i - 1] !== "-o" && !a.startsWith("-") && /\.[a-z]+$|\/$/.test(a))
      .map((a) => a.replace(/\/$/, ""));
    // a command that needs no such file (the embedded model's) must work as written
    if (named.length === 0) expect(r.code, r.err).toBe(EXIT.ok);
    if (r.code === EXIT.ok) return;
    expect(r.code).toBe(EXIT.usage);
    // the message names what is missing: one of the command's own files or flags
    expect(named.some((f) => r.err.includes(f)) || /--[a-z-]+/.test(r.err)).toBe(true);
  });
});
