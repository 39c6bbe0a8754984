import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModelFile, readTrainCheckpointFile } from "@flowturbo/sit/node";
import { TS_NODE_ARGS } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { EXIT_INTERRUPTED } from "../src/training";
import { cli } from "./run";

// a tiny SiT on 64 synthetic 32x32 images: 16 tokens, one block
const TINY = [
  "--synthetic",
  "64",
  "--hidden",
  "32",
  "--depth",
  "1",
  "--heads",
  "2",
  "--patch",
  "8",
  "--batch",
  "8",
];
const CLI_ROOT = join(import.meta.dirname, "..");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-train-cli-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function maxWeightDiff(a: string, b: string): Promise<number> {
  const [x, y] = [await loadModelFile(a), await loadModelFile(b)];
  expect([...x.weights.keys()]).toEqual([...y.weights.keys()]);
  let d = 0;
  for (const [k, t] of x.weights) {
    const u = y.weights.get(k)!;
    for (let i = 0; i < t.size; i++) d = Math.max(d, Math.abs(Number(t.data[i]) - Number(u.data[i])));
  }
  return d;
}

/** The CLI in a child process (so that it can be sent SIGINT); resolves with its exit code and stderr. */
function spawnCli(
  args: string[],
  onStderr: (text: string, kill: () => void) => void,
): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, "src/bin.ts", ...args], {
      cwd: CLI_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (chunk) => {
      err += String(chunk);
      onStderr(err, () => child.kill("SIGINT"));
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, err }));
  });
}

describe("flowturbo train-base", () => {
  test("trains, writes checkpoint, log and loadable model files, and prints a JSON summary", async () => {
    const out = join(dir, "base");
    const r = await cli(
      "train-base",
      "--out",
      out,
      "--steps",
      "6",
      "--checkpoint-every",
      "2",
      ...TINY,
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    expect(summary).toMatchObject({ command: "train-base", steps: 6, startStep: 0, interrupted: false });
    expect(Number.isFinite(summary.loss)).toBe(true);
    expect(summary.config).toMatchObject({
      hiddenSize: 32,
      depth: 1,
      numHeads: 2,
      patchSize: 8,
      inputSize: 32,
      numClasses: 9,
    });
    // plain progress lines on a non-TTY stderr
    expect(r.err).toMatch(
      /step 6\/6 \(100%\) loss \d\.\d{4} \(avg \d\.\d{4}\) [\d.]+ it\/s [\d.]+ samples\/s ETA/,
    );
    const log = (await readFile(summary.log, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const model = await loadModelFile(summary.model);
    expect(model.kind).toBe("sit");
    expect(model.config).toEqual(summary.config);
    expect(model.weights.has("pos_embed")).toBe(true);
    expect((await readTrainCheckpointFile(summary.checkpoint)).state.step).toBe(6);
    // EMA and raw weights differ after a few steps
    expect(await maxWeightDiff(summary.model, summary.ema)).toBeGreaterThan(0);
  });

  test("usage errors: existing run without --resume, --resume without a run, changed recipe, bad sizes", async () => {
    const out = join(dir, "base");
    let r = await cli("train-base", "--out", out, "--steps", "8", ...TINY);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/exists: pass --resume/);
    r = await cli("train-base", "--out", join(dir, "nothing"), "--steps", "8", "--resume", ...TINY);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/no checkpoint to resume/);
    r = await cli("train-base", "--out", out, "--steps", "8", "--resume", "--hidden", "64");
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/hidden 64 differs from the checkpoint's 32/);
    r = await cli("train-base", "--out", join(dir, "bad"), "--steps", "8", ...TINY, "--patch", "5");
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/--patch 5 does not divide the image size 32/);
    r = await cli("train-base", "--out", join(dir, "bad"), ...TINY);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/--steps N is required/);
  });

  test("SIGINT mid-run writes a checkpoint and exits 130; --resume ends where the uninterrupted run ends", async () => {
    const full = join(dir, "full");
    const r = await cli("train-base", "--out", full, "--steps", "100", ...TINY, "--json");
    expect(r.code, r.err).toBe(EXIT.ok);

    const cut = join(dir, "cut");
    let sent = false;
    const child = await spawnCli(
      [
        "train-base",
        "--out",
        cut,
        "--steps",
        "100",
        ...TINY,
        "--print-every",
        "1",
        "--checkpoint-every",
        "1000",
      ],
      (err, kill) => {
        if (!sent && /step 3\/100/.test(err)) {
          sent = true;
          kill();
        }
      },
    );
    expect(child.code, child.err).toBe(EXIT_INTERRUPTED);
    expect(child.err).toMatch(/SIGINT: stopping after this step and writing a checkpoint/);
    const stopped = (await readTrainCheckpointFile(join(cut, "checkpoint.safetensors"))).state.step;
    expect(stopped).toBeGreaterThanOrEqual(3);
    expect(stopped).toBeLessThan(100);
    const resumed = await cli("train-base", "--out", cut, "--steps", "100", "--resume", "--json");
    expect(resumed.code, resumed.err).toBe(EXIT.ok);
    expect(JSON.parse(resumed.out)).toMatchObject({ startStep: stopped, steps: 100 });
    expect(await maxWeightDiff(join(full, "model.safetensors"), join(cut, "model.safetensors"))).toBeLessThan(
      1e-6,
    );
    expect(await maxWeightDiff(join(full, "ema.safetensors"), join(cut, "ema.safetensors"))).toBeLessThan(
      1e-6,
    );
    const steps = (await readFile(join(cut, "log.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });
});

describe("flowturbo train-refiner", () => {
  test("trains a depth-1 refiner against the frozen teacher; resumes; refuses a non-SiT teacher", async () => {
    const teacher = join(dir, "base", "ema.safetensors");
    expect(existsSync(teacher)).toBe(true);
    const out = join(dir, "refiner");
    let r = await cli(
      "train-refiner",
      "--teacher",
      teacher,
      "--out",
      out,
      "--steps",
      "3",
      "--synthetic",
      "64",
      "--batch",
      "6",
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    expect(summary).toMatchObject({ command: "train-refiner", steps: 3, teacher });
    expect(summary.config).toMatchObject({
      depth: 1,
      inChannels: 6,
      keepChannels: 3,
      hiddenSize: 32,
      numHeads: 2,
    });
    const model = await loadModelFile(summary.model);
    expect(model.kind).toBe("refiner");
    expect(model.config).toEqual(summary.config);
    // the teacher is not part of the refiner's files
    expect([...model.weights.keys()].some((k) => k.startsWith("teacher."))).toBe(false);
    r = await cli("train-refiner", "--out", out, "--steps", "5", "--resume", "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toMatchObject({ startStep: 3, steps: 5, teacher });
    r = await cli(
      "train-refiner",
      "--teacher",
      join(dir, "base", "checkpoint.safetensors"),
      "--out",
      join(dir, "r2"),
      "--steps",
      "2",
      "--synthetic",
      "64",
    );
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/--teacher/);
    r = await cli("train-refiner", "--out", join(dir, "r3"), "--steps", "2");
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/--teacher SIT is required/);
  });
});

describe("train-refiner on an image folder", () => {
  test("class folders that do not map to the teacher's classes are refused unless mapped explicitly", async () => {
    const { encodePng } = await import("@flowturbo/data");
    const { mkdir, writeFile } = await import("node:fs/promises");
    const images = join(dir, "catdog");
    for (const [k, cls] of ["cat", "dog"].entries()) {
      await mkdir(join(images, cls), { recursive: true });
      for (let i = 0; i < 3; i++) {
        const data = new Uint8Array(32 * 32 * 3).map((_, j) => (j * (k + 3) + i * 17) % 256);
        await writeFile(join(images, cls, `${i}.png`), await encodePng({ width: 32, height: 32, data }));
      }
    }
    const teacher = join(dir, "base", "ema.safetensors");
    const args = ["train-refiner", "--teacher", teacher, "--images", images, "--steps", "1", "--batch", "2"];
    const refused = await cli(...args, "--out", join(dir, "catdog-a"));
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.err).toMatch(/'cat', 'dog'/);
    expect(refused.err).toMatch(/9 classes/);
    const mapped = await cli(
      ...args,
      "--out",
      join(dir, "catdog-b"),
      "--class-map",
      "folder-order",
      "--json",
    );
    expect(mapped.code, mapped.err).toBe(EXIT.ok);
  });
});
