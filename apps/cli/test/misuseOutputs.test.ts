// Issue 19, part 2: what sampling and decoding leave behind. Bounded memory for large runs (peak RSS of a
// child process), outputs that are complete or absent (SIGKILL mid-run), any latent size through the VAE,
// progress and NFE per sample. Numbers in the test names are the points.
import { spawn } from "node:child_process";
import { existsSync, watch } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { decodeImage } from "@flowturbo/data/node";
import { encodeSafetensors, Tensor } from "@flowturbo/tensor";
import { readNpzFile } from "@flowturbo/tensor/node";
import { goldenVaeFolder, runTs, TS_NODE_ARGS } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { ProgressBar, SamplingProgress } from "../src/progress";
import { cli } from "./run";

const CLI = join(import.meta.dirname, "../src/bin.ts");
const MB = 1 << 20;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-outputs-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("1. memory does not grow with --n: outputs stream batch by batch", () => {
  test("--n 10000 to an ADM npz: peak RSS under 2 GB, and within 100 MB of a 1000-sample run", async () => {
    // the embedded model with the cheapest method (one Euler step): the run is about memory, not quality
    const run = async (n: number, out: string) => {
      const r = await runTs(CLI, {
        args: [
          "sample",
          "--n",
          String(n),
          "--solver",
          "euler",
          "--steps",
          "1",
          "--cfg",
          "1",
          "--batch",
          "250",
          "-o",
          out,
          "--json",
        ],
        peakRss: true,
      });
      expect(r.code, r.stderr).toBe(EXIT.ok);
      return r.peakRssBytes!;
    };
    // 4 batches reach the steady state (ORT's arena, the V8 heap); 40 must not add to it
    const small = await run(1000, join(dir, "small.npz"));
    const big = await run(10000, join(dir, "n.npz"));
    console.log(`peak RSS: --n 1000 ${(small / MB).toFixed(0)} MB, --n 10000 ${(big / MB).toFixed(0)} MB`);
    expect(big).toBeLessThan(2048 * MB);
    // holding the run (10000 x 3 x 32 x 32 floats, then its uint8 images) would add about 150 MB
    expect(big - small).toBeLessThan(100 * MB);
    const arrays = await readNpzFile(join(dir, "n.npz"));
    expect(arrays.get("arr_0")!.shape).toEqual([10000, 32, 32, 3]);
    expect(arrays.get("arr_1")!.shape).toEqual([10000]);
  });
});

describe("9. decode takes latents of any height and width", () => {
  test("4 x 5 x 6 latents decode to 10 x 12 images with the tiny VAE (factor 2)", async () => {
    const latents = join(dir, "rect.safetensors");
    const z = Tensor.from(
      "float32",
      [1, 4, 5, 6],
      Array.from({ length: 120 }, (_, i) => Math.sin(i)),
    );
    await writeFile(latents, encodeSafetensors(new Map([["latents", z]])));
    const out = join(dir, "rect.npz");
    const r = await cli("decode", latents, "--vae", await goldenVaeFolder(dir), "-o", out, "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(JSON.parse(r.out).shape).toEqual([1, 3, 10, 12]);
    expect((await readNpzFile(out)).get("arr_0")!.shape).toEqual([1, 10, 12, 3]);
  });
});

/** Runs the CLI and SIGKILLs it when `when` says so (checked on every change in `watchDir`). */
function killWhen(args: string[], watchDir: string, when: () => Promise<boolean>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, CLI, ...args], { stdio: "ignore" });
    const watcher = watch(watchDir, { recursive: false }, () => {
      void when().then((yes) => {
        if (yes) child.kill("SIGKILL");
      });
    });
    child.on("error", reject);
    child.on("close", (code) => {
      watcher.close();
      resolve(code);
    });
  });
}

describe("10. an interrupted run leaves nothing that looks complete", () => {
  test("SIGKILL while a PNG grid is written: no file, or a complete one, under its name", async () => {
    const out = join(dir, "grid");
    await mkdir(out);
    const png = join(out, "g.png");
    // killed as soon as the grid's temporary file appears
    await killWhen(["sample", "--n", "64", "-o", png], out, async () =>
      (await readdir(out)).some((f) => f.endsWith(".tmp")),
    );
    if (existsSync(png)) {
      // the rename won the race: then the file is whole
      const img = await decodeImage(new Uint8Array(await readFile(png)));
      expect([img.width, img.height]).toEqual([274, 274]);
    }
  });

  test("SIGKILL during a PNG-folder run: the folder says incomplete, and eval refuses it", async () => {
    const out = join(dir, "folder");
    await mkdir(out);
    await killWhen(["sample", "--n", "64", "--batch", "4", "-o", out], out, async () =>
      (await readdir(out)).some((f) => f.endsWith(".png")),
    );
    const record = JSON.parse(await readFile(join(out, "flowturbo-samples.json"), "utf8"));
    expect(record).toMatchObject({ format: "flowturbo-samples", complete: false, count: 64 });
    const r = await cli("eval", "fid", out, "emoji", "--features", "emoji");
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(
      /folder: an interrupted sample run \(flowturbo-samples\.json says incomplete: 64 images were to be written\); run it again/,
    );
    // the same folder, finished: complete, and read
    const done = await cli("sample", "--n", "4", "-o", out);
    expect(done.code, done.err).toBe(EXIT.ok);
    expect(JSON.parse(await readFile(join(out, "flowturbo-samples.json"), "utf8"))).toMatchObject({
      complete: true,
      count: 4,
    });
    expect((await readdir(out)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("11. no temporary file is left by a refused output", () => {
  test("--latents-out naming an existing folder: exit 2 before sampling, nothing written", async () => {
    const taken = join(dir, "taken");
    await mkdir(taken);
    const r = await cli("sample", "--n", "2", "--latents-out", taken, "--no-decode");
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/--latents-out .*taken is a folder; give a file name/);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("18. progress moves per step across batches; NFE is per sample", () => {
  test("one batch: the bar moves with t and ends on 'done'; NFE per sample from each batch's calls", () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk).trim());
        cb();
      },
    });
    const progress = new SamplingProgress(new ProgressBar(stream, "samples", 0), 4, 4);
    const hook = progress.hook(0);
    const nfe = (base: number, refiner = 0) => ({ base, refiner });
    const batch = { batch: 0, batches: 1, inBatch: 4, steps: 2 };
    hook({
      done: 0,
      total: 4,
      step: 1,
      t: 0.25,
      nfe: nfe(2),
      stage: "sampling",
      phase: "sample",
      ...batch,
      fraction: 0.3,
    });
    hook({
      done: 0,
      total: 4,
      step: 2,
      t: 0.75,
      nfe: nfe(3, 2),
      stage: "sampling",
      phase: "sample",
      ...batch,
      fraction: 0.6,
    });
    hook({
      done: 4,
      total: 4,
      step: 0,
      t: 1,
      nfe: nfe(4, 4),
      stage: "sampling",
      phase: "done",
      ...batch,
      fraction: 1,
    });
    progress.finish();
    expect(lines[0]).toMatch(/^samples 0\/4 batch 1\/1 step 1 NFE 2 elapsed \d:\d\d ETA/);
    expect(lines[1]).toMatch(/^samples 0\/4 batch 1\/1 step 2 NFE 3\+2R elapsed/);
    expect(lines[2]).toMatch(/^samples 4\/4 done elapsed \d:\d\d ETA 0:00$/);
    expect(progress.nfe).toEqual({ base: 4, refiner: 4 });
  });

  test("three batches of two: the same NFE per sample as one batch", async () => {
    const nfeOf = async (batch: string) => {
      const r = await cli(
        "sample",
        "--n",
        "6",
        "--plan",
        "H1P2R1",
        "--batch",
        batch,
        "--json",
        "--no-decode",
        "--latents-out",
        join(dir, `b${batch}.safetensors`),
      );
      expect(r.code, r.err).toBe(EXIT.ok);
      return JSON.parse(r.out).nfe;
    };
    expect(await nfeOf("2")).toEqual({ base: 4, refiner: 2 });
    expect(await nfeOf("6")).toEqual({ base: 4, refiner: 2 });
  });
});
