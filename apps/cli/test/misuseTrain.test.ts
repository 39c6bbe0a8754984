// Issue 19, part 3: the train-* commands under misuse (tiny models, a few steps each): large datasets,
// labels out of range, resuming to fewer steps, stale temporary files, refused runs that leave nothing,
// resuming from another working directory, the wrong model as the teacher. Numbers in the test names
// are the points.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "@flowturbo/data";
import { Tensor } from "@flowturbo/tensor";
import { saveNpzFile } from "@flowturbo/tensor/node";
import { runTs } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

const CLI = join(import.meta.dirname, "../src/bin.ts");
// a tiny SiT: one block, 16 tokens of 32x32 images (or 1 token of 8x8 ones)
const TINY = ["--hidden", "32", "--depth", "1", "--heads", "2", "--patch", "8", "--batch", "4"];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-misuse-train-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A training npz of n 8x8 images with the given labels (default i mod 5). */
async function npz(
  name: string,
  n: number,
  label: (i: number) => bigint = (i) => BigInt(i % 5),
  adm = false,
) {
  const path = join(dir, name);
  const images = new Tensor(
    "uint8",
    [n, 8, 8, 3],
    new Uint8Array(n * 192).map((_, i) => i % 251),
  );
  const labels = Tensor.from(
    "int64",
    [n],
    Array.from({ length: n }, (_, i) => label(i)),
  );
  await saveNpzFile(
    path,
    new Map<string, Tensor>([
      [adm ? "arr_0" : "images", images],
      [adm ? "arr_1" : "labels", labels],
    ]),
  );
  return path;
}

const usage = (r: { code: number; err: string }, message: RegExp) => {
  expect(r.code, r.err).toBe(EXIT.usage);
  expect(r.err).toMatch(message);
  expect(r.err).not.toContain("\u001b["); // no terminal colour codes
};

describe("5. training data: large sets work, labels are class ids", () => {
  test("200,000 images train; a label of 1e9 or -5 is refused naming the file, label and example", async () => {
    const big = await npz("big.npz", 200_000);
    const r = await cli(
      "train-base",
      "--out",
      join(dir, "big"),
      "--data",
      big,
      "--steps",
      "1",
      ...TINY,
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(JSON.parse(r.out).config).toMatchObject({ inputSize: 8, numClasses: 5 });
    const huge = await npz("huge.npz", 10, (i) => (i === 7 ? 1_000_000_000n : 0n));
    usage(
      await cli("train-base", "--out", join(dir, "huge"), "--data", huge, "--steps", "1", ...TINY),
      /huge\.npz 'labels': label 1000000000 of example 7 is not a class id in 0\.\.99999/,
    );
    const negative = await npz("negative.npz", 10, (i) => (i === 3 ? -5n : 1n));
    usage(
      await cli("train-base", "--out", join(dir, "neg"), "--data", negative, "--steps", "1", ...TINY),
      /negative\.npz 'labels': label -5 of example 3 is not a class id/,
    );
    expect(existsSync(join(dir, "huge")) || existsSync(join(dir, "neg"))).toBe(false);
  });
});

describe("7, 11 and 13. resumes and refused runs", () => {
  const out = () => join(dir, "run");
  test("7. --resume to fewer steps than the checkpoint has: exit 2, the model files untouched", async () => {
    expect((await cli("train-base", "--out", out(), "--synthetic", "16", "--steps", "3", ...TINY)).code).toBe(
      EXIT.ok,
    );
    const ema = join(out(), "ema.safetensors");
    const before = [await readFile(ema), (await stat(ema)).mtimeMs] as const;
    for (const steps of ["2", "3"])
      usage(
        await cli("train-base", "--out", out(), "--steps", steps, "--resume"),
        new RegExp(
          `--resume: the run in .*run is at step 3 already; --steps ${steps} would train nothing \\(give more than 3`,
        ),
      );
    expect(Buffer.compare(await readFile(ema), before[0])).toBe(0);
    expect((await stat(ema)).mtimeMs).toBe(before[1]);
  });

  test("11. --resume removes the temporary files of a killed run's writes, and says so", async () => {
    // what SIGKILL during a checkpoint write leaves: <file>.<pid>.<time>.tmp of a process that is gone
    const stale = join(out(), "checkpoint.safetensors.2147483646.m1abcd.tmp");
    await writeFile(stale, new Uint8Array(1024));
    const r = await cli("train-base", "--out", out(), "--steps", "4", "--resume");
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.err).toContain(`removed ${stale}: a temporary file of an interrupted write`);
    expect((await readdir(out())).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  test("13. a refused run leaves no --out folder; an --out that cannot be written fails at once", async () => {
    const fresh = join(dir, "refused");
    usage(
      await cli("train-base", "--out", fresh, "--synthetic", "16", "--steps", "2", ...TINY, "--hidden", "30"),
      /--hidden must be a multiple of 4, got 30/,
    );
    usage(
      await cli("train-base", "--out", fresh, "--steps", "2", "--data", join(dir, "nope.npz")),
      /--data: file not found/,
    );
    expect(existsSync(fresh)).toBe(false);
    // mkdir -p of /proc/x never returns in Node: the probe refuses first
    usage(
      await cli("train-base", "--out", "/proc/flowturbo-x", "--synthetic", "16", "--steps", "2", ...TINY),
      /--out \/proc\/flowturbo-x: cannot write in \/proc/,
    );
  });
});

describe("14. train-refiner: paths and the teacher's kind", () => {
  test("a run started with relative paths resumes from another working directory", async () => {
    const work = join(dir, "work");
    await mkdir(work);
    const base = await runTs(CLI, {
      cwd: work,
      args: ["train-base", "--out", "teacher", "--synthetic", "16", "--steps", "2", ...TINY],
    });
    expect(base.code, base.stderr).toBe(EXIT.ok);
    const refinerArgs = [
      "--out",
      "ref",
      "--teacher",
      "teacher/ema.safetensors",
      "--synthetic",
      "16",
      "--batch",
      "4",
    ];
    const started = await runTs(CLI, { cwd: work, args: ["train-refiner", ...refinerArgs, "--steps", "1"] });
    expect(started.code, started.stderr).toBe(EXIT.ok);
    // the recipe records the teacher relative to the run's folder
    const resumed = await runTs(CLI, {
      cwd: dir,
      args: ["train-refiner", "--out", "work/ref", "--steps", "2", "--resume", "--json"],
    });
    expect(resumed.code, resumed.stderr).toBe(EXIT.ok);
    expect(JSON.parse(resumed.stdout.trim().split("\n").at(-1)!)).toMatchObject({ steps: 2, startStep: 1 });
    // a refiner given as the teacher: named by its kind, before any training
    usage(
      await cli(
        "train-refiner",
        "--out",
        join(dir, "r2"),
        "--teacher",
        join(work, "ref", "model.safetensors"),
        "--steps",
        "1",
        "--synthetic",
        "16",
      ),
      /--teacher model\.safetensors: this is a refiner checkpoint, expected a sit \(a SiT base model\)/,
    );
    expect(existsSync(join(dir, "r2"))).toBe(false);
  });
});

describe("17. training inputs: ADM sample files, folders without classes, NaN data", () => {
  test("a NaN loss at step 1 says that no checkpoint exists yet", async () => {
    const path = join(dir, "nan.npz");
    const latents = new Tensor("float32", [8, 3, 8, 8], new Float32Array(8 * 192).fill(Number.NaN));
    await saveNpzFile(
      path,
      new Map<string, Tensor>([
        ["latents", latents],
        ["labels", Tensor.from("int64", [8], Array(8).fill(0n))],
      ]),
    );
    const r = await cli("train-base", "--out", join(dir, "nanrun"), "--data", path, "--steps", "2", ...TINY);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toMatch(/loss NaN .* at step 1 is not finite; no checkpoint was written/);
  });

  test("an ADM sample npz (arr_0, arr_1) is training data; --images on a flat folder says what it needs", async () => {
    const adm = await npz("adm.npz", 12, (i) => BigInt(i % 3), true);
    const r = await cli(
      "train-base",
      "--out",
      join(dir, "adm"),
      "--data",
      adm,
      "--steps",
      "1",
      ...TINY,
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(JSON.parse(r.out).config.numClasses).toBe(3);
    const flat = join(dir, "flat");
    await mkdir(flat);
    await writeFile(join(flat, "a.png"), await encodePng({ width: 8, height: 8, data: new Uint8Array(192) }));
    usage(
      await cli("train-base", "--out", join(dir, "flatrun"), "--images", flat, "--steps", "1", ...TINY),
      /--images: .*flat: no class subfolders: labelled images need one subfolder per class \(.*flat\/<class>\/\*\.png\)/,
    );
  });
});
