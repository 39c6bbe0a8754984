import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EMOJI_CATEGORIES, emojiDataset } from "../src/index";
import { emojiDatasetPath, loadEmojiDataset } from "../src/node/index";

describe("emoji dataset", async () => {
  const ds = await loadEmojiDataset();

  it("holds 7,562 32x32 images in 9 categories", () => {
    expect(ds.length).toBe(7562);
    expect(ds.images.shape).toEqual([7562, 32, 32, 3]);
    expect(ds.categories).toEqual(EMOJI_CATEGORIES);
    expect(ds.classCounts()).toEqual([338, 4522, 318, 262, 436, 170, 528, 448, 540]);
    expect(ds.filter((i, d) => d.variant[i] === 0).length).toBe(2 * 1906);
    expect(ds.filter((i, d) => d.source[i] === 1).length).toBe(3781);
  });

  it("is under 7 MB on disk", () => {
    expect(readFileSync(emojiDatasetPath()).length).toBeLessThan(7_000_000);
  });

  it("gives (image in [-1, 1], category) samples with provenance", () => {
    const s = ds.get(0);
    expect(s.image.shape).toEqual([3, 32, 32]);
    expect([s.name, s.unified, s.category, s.source]).toEqual([
      "grinning",
      "1F600",
      "Smileys & Emotion",
      "google",
    ]);
    let min = 1;
    let max = -1;
    for (const v of s.image.data as Float32Array) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(max).toBe(1); // white background
    expect(min).toBeLessThan(-0.5);
    // corners are background white
    expect([...ds.rgb(100).data.subarray(0, 3)]).toEqual([255, 255, 255]);
  });

  it("batches deterministically by seed and epoch", () => {
    const first = (seed: number, epoch: number) =>
      ds.batches({ batchSize: 64, seed, epoch, randomFlip: true }).next().value!;
    const a = first(1, 0);
    expect(a.images.shape).toEqual([64, 3, 32, 32]);
    expect(first(1, 0).indices).toEqual(a.indices);
    expect(first(1, 0).images.data).toEqual(a.images.data);
    expect(first(2, 0).indices).not.toEqual(a.indices);
    expect([...a.labels.data]).toEqual([...a.indices].map((i) => BigInt(ds.labels[i])));
    let n = 0;
    for (const b of ds.batches({ batchSize: 1000, shard: { index: 1, count: 4 } })) n += b.indices.length;
    expect(n).toBe(Math.ceil(7562 / 4));
  });

  it("loads from bytes (the browser path)", async () => {
    const again = await emojiDataset({ bytes: new Uint8Array(readFileSync(emojiDatasetPath())) });
    expect(again.length).toBe(ds.length);
    expect(again.labels).toEqual(ds.labels);
  });
});
