// Latent cache: build, interrupt + resume, checksums, reading batches, sampling latents.
import { readFileSync, writeFileSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { noiseForSample, Tensor } from "@flowturbo/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SD_LATENT_SCALE } from "@flowturbo/vae";
import { flipFor, type LatentEncoder, sampleLatents } from "../src/index";
import {
  buildLatentCache,
  flatFolder,
  imageFolder,
  LatentCacheError,
  type LatentCacheIndex,
  openLatentCache,
} from "../src/node/index";
import { tempDir, writeImage } from "./helpers";

const tmp = tempDir();
const root = join(tmp.dir, "data");
const S = 16; // image size; latents [4, 2, 2] (8x8 average pooling)

/** A deterministic stand-in for the VAE: mean = 8x8 average pools of (R, G, B, R-B), std = 0.1 + |mean| / 10. */
function fakeEncoder(counter: { calls: number; failAfter?: number }): LatentEncoder {
  return async (images) => {
    counter.calls++;
    if (counter.failAfter !== undefined && counter.calls > counter.failAfter)
      throw new Error("encoder crashed");
    const [b, , h, w] = images.shape;
    const lh = h / 8;
    const lw = w / 8;
    const mean = new Float32Array(b * 4 * lh * lw);
    const x = images.data as Float32Array;
    for (let i = 0; i < b; i++)
      for (let c = 0; c < 4; c++)
        for (let y = 0; y < lh; y++)
          for (let xx = 0; xx < lw; xx++) {
            let s = 0;
            for (let dy = 0; dy < 8; dy++)
              for (let dx = 0; dx < 8; dx++) {
                const p = (y * 8 + dy) * w + xx * 8 + dx;
                const v = (ch: number) => x[(i * 3 + ch) * h * w + p];
                s += c < 3 ? v(c) : v(0) - v(2);
              }
            mean[((i * 4 + c) * lh + y) * lw + xx] = s / 64;
          }
    const std = mean.map((m) => 0.1 + Math.abs(m) / 10);
    return {
      mean: new Tensor("float32", [b, 4, lh, lw], mean),
      std: new Tensor("float32", [b, 4, lh, lw], std),
    };
  };
}

beforeAll(async () => {
  for (let i = 0; i < 5; i++) await writeImage(join(root, "a", `a${i}.png`), 20 + i, 18, "png", i);
  for (let i = 0; i < 4; i++) await writeImage(join(root, "b", `b${i}.jpg`), 18, 24 + i, "jpeg", 10 + i);
});
afterAll(tmp.cleanup);

const dataset = () => imageFolder(root, { numClasses: 2, imageSize: S, classMap: "folder-order" });
const shardHashes = (index: LatentCacheIndex) => index.shards.map((s) => s?.sha256);

describe("latent cache", () => {
  it("builds sharded safetensors with an index; an interrupted build resumes to identical shards", async () => {
    const ds = await dataset();
    const full = join(tmp.dir, "full");
    const c0 = { calls: 0 };
    const ref = await buildLatentCache(ds, full, fakeEncoder(c0), {
      shardSize: 4,
      batchSize: 3,
      encoder: "fake",
    });
    expect(ref.complete).toBe(true);
    expect(ref.numShards).toBe(3);
    expect(ref.shards.map((s) => [s!.first, s!.images, s!.rows])).toEqual([
      [0, 4, 8],
      [4, 4, 8],
      [8, 1, 2],
    ]);
    expect(ref.latentShape).toEqual([4, 2, 2]);
    expect(c0.calls).toBe(3 + 3 + 1); // 8 rows in batches of 3 per shard, then 2 rows
    expect((await readdir(full)).sort()).toEqual([
      "index.json",
      "shard-00000.safetensors",
      "shard-00001.safetensors",
      "shard-00002.safetensors",
    ]);

    // Crash in the middle of shard 1 (after 4 encoder calls), then resume.
    const dir = join(tmp.dir, "resume");
    const c1 = { calls: 0, failAfter: 4 };
    await expect(
      buildLatentCache(ds, dir, fakeEncoder(c1), { shardSize: 4, batchSize: 3, encoder: "fake" }),
    ).rejects.toThrow(/encoder crashed/);
    const partial = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as LatentCacheIndex;
    expect(partial.complete).toBe(false);
    expect(partial.shards.map((s) => s !== null)).toEqual([true, false, false]);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]); // nothing half-written
    await expect(openLatentCache(dir)).rejects.toThrow(/incomplete cache \(2 of 3 shards missing\)/);

    const c2 = { calls: 0 };
    const resumed = await buildLatentCache(ds, dir, fakeEncoder(c2), {
      shardSize: 4,
      batchSize: 3,
      encoder: "fake",
    });
    expect(c2.calls).toBe(3 + 1); // only shards 1 and 2
    expect(resumed.complete).toBe(true);
    expect(shardHashes(resumed)).toEqual(shardHashes(ref));
    expect(resumed.fingerprint).toBe(ref.fingerprint);

    // A finished cache is not re-encoded.
    const c3 = { calls: 0 };
    await buildLatentCache(ds, dir, fakeEncoder(c3), { shardSize: 4, batchSize: 3, encoder: "fake" });
    expect(c3.calls).toBe(0);
  });

  it("refuses other options or data unless overwrite, and rebuilds corrupted shards on resume", async () => {
    const ds = await dataset();
    const dir = join(tmp.dir, "opts");
    const enc = fakeEncoder({ calls: 0 });
    const first = await buildLatentCache(ds, dir, enc, { shardSize: 4, encoder: "fake" });
    await expect(buildLatentCache(ds, dir, enc, { shardSize: 5, encoder: "fake" })).rejects.toThrow(
      /other content \(shardSize: cache 4, now 5\)/,
    );
    const other = await imageFolder(root, { numClasses: 2, imageSize: S, classMap: { a: 1, b: 0 } });
    await expect(buildLatentCache(other, dir, enc, { shardSize: 4, encoder: "fake" })).rejects.toThrow(
      /the dataset .* differs/,
    );
    // flip one byte of shard 1: resume notices (sha256) and re-encodes that shard only
    const shard = join(dir, first.shards[1]!.file);
    const bytes = readFileSync(shard);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(shard, bytes);
    await expect(openLatentCache(dir)).rejects.toThrow(LatentCacheError);
    await expect(openLatentCache(dir)).rejects.toThrow(/shard-00001\.safetensors: sha256 mismatch/);
    const c = { calls: 0 };
    const again = await buildLatentCache(ds, dir, fakeEncoder(c), {
      shardSize: 4,
      batchSize: 16,
      encoder: "fake",
    });
    expect(c.calls).toBe(1);
    expect(shardHashes(again)).toEqual(shardHashes(first));
    const over = await buildLatentCache(ds, dir, enc, { shardSize: 5, encoder: "fake", overwrite: true });
    expect(over.numShards).toBe(2);
    expect((await readdir(dir)).filter((f) => f.startsWith("shard-")).length).toBe(2);
  });

  it("reads back the encoder's posteriors per (image, flip) and batches one flip per image per epoch", async () => {
    const ds = await dataset();
    const dir = join(tmp.dir, "read");
    const enc = fakeEncoder({ calls: 0 });
    await buildLatentCache(ds, dir, enc, { shardSize: 4, encoder: "fake" });
    const cache = await openLatentCache(dir);
    try {
      expect(cache.numRows).toBe(18);
      expect(cache.images).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      // row of image 5, mirrored = encoder(flipped crop of image 5)
      const r = cache.rowOf(5, 1)!;
      const got = await cache.readRows([r]);
      const img = await ds.get(5, true);
      const want = await enc(new Tensor("float32", [1, 3, S, S], img.image.data as Float32Array));
      expect(got.mean.data).toEqual(want.mean.data);
      expect(got.std.data).toEqual(want.std.data);
      expect([...got.labels.data]).toEqual([1n]);
      expect([got.indices[0], got.flips[0]]).toEqual([5, 1]);

      const seen: number[] = [];
      for await (const b of cache.batches({ batchSize: 4, seed: 9, epoch: 2 })) {
        b.indices.forEach((i, k) => {
          expect(b.flips[k]).toBe(flipFor(9, 2, i) ? 1 : 0);
        });
        seen.push(...b.indices);
        const z = sampleLatents(b.mean, b.std, b.rows, { seed: 9, epoch: 2, scale: SD_LATENT_SCALE });
        expect(z.shape).toEqual([b.indices.length, 4, 2, 2]);
      }
      expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await cache.close();
    }
  });

  it("stores float16 and skips corrupt images (recorded in the index)", async () => {
    const dir = join(tmp.dir, "f16");
    const bad = join(tmp.dir, "withbad");
    await writeImage(join(bad, "0.png"), 16, 16);
    await writeFile(join(bad, "1.png"), "broken");
    await writeImage(join(bad, "2.png"), 16, 16, "png", 3);
    const ds = await flatFolder(bad, { imageSize: S, onError: "skip", onSkip: () => undefined });
    const index = await buildLatentCache(ds, dir, fakeEncoder({ calls: 0 }), {
      dtype: "float16",
      flips: "none",
    });
    expect(index.shards[0]!.skipped).toEqual([join(bad, "1.png")]);
    expect(index.shards[0]!.rows).toBe(2);
    const cache = await openLatentCache(dir, { verify: "size" });
    const b = await cache.readRows([0, 1]);
    expect([...b.indices]).toEqual([0, 2]);
    const exact = await fakeEncoder({ calls: 0 })(
      new Tensor("float32", [1, 3, S, S], (await ds.get(2)).image.data as Float32Array),
    );
    for (let i = 0; i < 16; i++)
      expect(Math.abs(b.mean.data[16 + i] - (exact.mean.data as Float32Array)[i])).toBeLessThan(1e-3);
    await cache.close();
  });
});

describe("sampleLatents", () => {
  it("is scale * (mean + std * eps) with per-row, per-epoch noise", () => {
    const mean = Tensor.from("float32", [2, 1, 1, 2], [0, 1, 2, 3]);
    const std = Tensor.from("float32", [2, 1, 1, 2], [1, 1, 0.5, 0.5]);
    const z = sampleLatents(mean, std, [10, 11], { seed: 4, epoch: 1, scale: SD_LATENT_SCALE });
    const eps = noiseForSample(4, 11, [1, 1, 2], "data/latent-eps/1");
    expect(z.data[2]).toBe(
      Math.fround(Math.fround(SD_LATENT_SCALE) * Math.fround(2 + Math.fround(0.5 * eps[0]))),
    );
    expect(sampleLatents(mean, std, [10, 11], { seed: 4, epoch: 1, scale: SD_LATENT_SCALE }).data).toEqual(
      z.data,
    );
    expect(
      sampleLatents(mean, std, [10, 11], { seed: 4, epoch: 2, scale: SD_LATENT_SCALE }).data,
    ).not.toEqual(z.data);
  });
});
