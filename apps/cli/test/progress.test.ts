import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { goldenPath, SAFETY_TIMEOUT_MS, TS_NODE_ARGS } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

const CLI = join(import.meta.dirname, "../src/bin.ts");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-progress-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const args = (out: string) => [
  "sample",
  "--base",
  goldenPath("sit/sit.pt"),
  "--heads",
  "4",
  "--plan",
  "H3",
  "--n",
  "2",
  "--batch",
  "1",
  "--latents-out",
  out,
];

describe("progress output", () => {
  test("under a pseudo-terminal the bar is redrawn in place", async () => {
    // util-linux `script` gives the command a pty, as an interactive shell would
    const cmd = [process.execPath, ...TS_NODE_ARGS, CLI, ...args(join(dir, "a.safetensors"))]
      .map((a) => `'${a}'`)
      .join(" ");
    const { stdout } = await promisify(execFile)("script", ["-qfec", cmd, "/dev/null"], {
      cwd: join(import.meta.dirname, ".."),
      timeout: SAFETY_TIMEOUT_MS,
    });
    expect(stdout).toContain("\r\x1b[2K[");
    expect(stdout).toMatch(/\[=+\] 100% samples 2\/2/);
    expect(stdout).toMatch(/wrote .*a\.safetensors/);
  });

  test("without a terminal progress comes as plain lines and --json stays parseable", async () => {
    const r = await cli(...args(join(dir, "b.safetensors")), "--json");
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).not.toContain("\r");
    // the first step of the first batch, then the last line: never "step 0" at the end
    expect(r.err).toMatch(/^samples 0\/2 batch 1\/2 step 1 NFE 2 elapsed \d+:\d\d ETA/m);
    expect(r.err.trim().split("\n").at(-1)).toMatch(/^samples 2\/2 done elapsed \d+:\d\d ETA 0:00$/);
    expect(JSON.parse(r.out).samples).toBe(2);
  });
});
