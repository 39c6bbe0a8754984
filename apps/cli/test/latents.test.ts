// Training on a latent cache (--latents): the cached posteriors as a training set that draws a fresh
// sample per epoch, and train-base running on it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LatentEncoder } from "@flowturbo/data";
import { buildLatentCache, imageFolder, writePngFolder } from "@flowturbo/data/node";
import { loadModelFile } from "@flowturbo/sit/node";
import { Tensor } from "@flowturbo/tensor";
import { SD_LATENT_SCALE } from "@flowturbo/vae";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadLatentCacheSet } from "../src/latentSet";
import { cli } from "./run";

let dir: string;
let cacheDir: string;

/** Stand-in VAE: 4x4 average pools of (R, G, B, R - B) as the mean, std 0.2. */
const fakeEncoder: LatentEncoder = async (images) => {
  const [b, , h, w] = images.shape;
  const lh = h / 4;
  const x = images.data as Float32Array;
  const mean = new Float32Array(b * 4 * lh * lh);
  for (let i = 0; i < b; i++)
    for (let c = 0; c < 4; c++)
      for (let y = 0; y < lh; y++)
        for (let xx = 0; xx < lh; xx++) {
          let s = 0;
          for (let d = 0; d < 16; d++) {
            const p = (y * 4 + (d >> 2)) * w + xx * 4 + (d & 3);
            const v = (ch: number) => x[(i * 3 + ch) * h * w + p];
            s += c < 3 ? v(c) : v(0) - v(2);
          }
          mean[((i * 4 + c) * lh + y) * lh + xx] = s / 16;
        }
  return {
    mean: new Tensor("float32", [b, 4, lh, lh], mean),
    std: new Tensor("float32", [b, 4, lh, lh], new Float32Array(mean.length).fill(0.2)),
  };
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-latents-"));
  const images = join(dir, "images");
  for (const [k, name] of ["cats", "dogs"].entries()) {
    const px = Float32Array.from({ length: 6 * 3 * 32 * 32 }, (_, i) => Math.sin(i * (0.01 + 0.02 * k)));
    await writePngFolder(new Tensor("float32", [6, 3, 32, 32], px), join(images, name));
  }
  const ds = await imageFolder(images, { numClasses: 2, imageSize: 32, classMap: "folder-order" });
  cacheDir = join(dir, "cache");
  await buildLatentCache(ds, cacheDir, fakeEncoder, { shardSize: 5, batchSize: 4, encoder: "fake" });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("latent cache training set", () => {
  test("labels from the cache; a fresh posterior sample per epoch, the same within one", async () => {
    const { set, flips, images } = await loadLatentCacheSet(cacheDir, { seed: 3 });
    expect([images, set.length, set.numClasses, flips]).toEqual([12, 12, 2, true]);
    expect(set.shape).toEqual([4, 8, 8]);
    expect(Array.from({ length: 12 }, (_, i) => set.label(i))).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const draw = (i: number, flip: boolean, epoch: number) => {
      const out = new Float32Array(256);
      set.write(i, flip, out, 0, epoch);
      return out;
    };
    expect(draw(2, false, 0)).toEqual(draw(2, false, 0));
    const a = draw(2, false, 0);
    const b = draw(2, false, 1);
    const diff = a.map((v, k) => v - b[k]);
    // both are 0.18215 * (mean + 0.2 eps): they differ by 0.18215 * 0.2 * (eps - eps') ~ 0.05
    const rms = Math.sqrt(diff.reduce((s, v) => s + v * v, 0) / diff.length);
    expect(rms).toBeGreaterThan(0.5 * SD_LATENT_SCALE * 0.2);
    expect(rms).toBeLessThan(3 * SD_LATENT_SCALE * 0.2);
    expect(draw(2, true, 0)).not.toEqual(a); // the mirrored image's own posterior
  });

  test("refuses a cache with another class count than the model", async () => {
    await expect(loadLatentCacheSet(cacheDir, { seed: 0, numClasses: 1000 })).rejects.toThrow(
      /the cache's labels are 2 classes, the model has 1000/,
    );
  });

  test("train-base --latents trains a latent-space SiT", async () => {
    const out = join(dir, "run");
    const args = ["train-base", "--latents", cacheDir, "--out", out, "--steps", "2", "--hidden", "32"];
    args.push("--depth", "1", "--heads", "2", "--patch", "2", "--batch", "4");
    const r = await cli(...args);
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const model = await loadModelFile(join(out, "model.safetensors"));
    expect([model.config.inChannels, model.config.inputSize, model.config.numClasses]).toEqual([4, 8, 2]);
  });

  test("--latents errors name the flag", async () => {
    const missing = await cli(
      "train-base",
      "--latents",
      join(dir, "nope"),
      "--out",
      join(dir, "x"),
      "--steps",
      "1",
    );
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--latents: .*no latent cache here/);
    const both = await cli(
      "train-base",
      "--latents",
      cacheDir,
      "--images",
      dir,
      "--out",
      join(dir, "y"),
      "--steps",
      "1",
    );
    expect(both.err).toMatch(/--images and --latents are exclusive/);
  });
});
