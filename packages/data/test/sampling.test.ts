import { Rng } from "@flowturbo/tensor";
import { describe, expect, it } from "vitest";
import { FLIP_STREAM, flipFor, flipsFor, SHUFFLE_STREAM, sampleOrder } from "../src/index";

describe("sampleOrder", () => {
  it("is the counter-based RNG's permutation for (seed, epoch), reproducible", () => {
    const a = sampleOrder(100, { seed: 7, epoch: 3 });
    expect(a).toEqual(new Rng(7).stream(SHUFFLE_STREAM, 3).permutation(100));
    expect(sampleOrder(100, { seed: 7, epoch: 3 })).toEqual(a);
    expect(sampleOrder(100, { seed: 7, epoch: 4 })).not.toEqual(a);
    expect(sampleOrder(100, { seed: 8, epoch: 3 })).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect([...sampleOrder(5, { shuffle: false })]).toEqual([0, 1, 2, 3, 4]);
  });

  it("shards like DistributedSampler: pad, drop, none", () => {
    const n = 10;
    const full = sampleOrder(n, { seed: 1 });
    const pads = [0, 1, 2].map((index) => sampleOrder(n, { seed: 1, shard: { index, count: 3 } }));
    expect(pads.map((p) => p.length)).toEqual([4, 4, 4]);
    // positions index, index+3, ... of the permutation, wrapping to its start
    expect([...pads[1]]).toEqual([full[1], full[4], full[7], full[0]]);
    expect(new Set(pads.flatMap((p) => [...p])).size).toBe(n);
    const drops = [0, 1, 2].map((index) =>
      sampleOrder(n, { seed: 1, shard: { index, count: 3, remainder: "drop" } }),
    );
    expect(drops.map((p) => p.length)).toEqual([3, 3, 3]);
    const nones = [0, 1, 2].map((index) =>
      sampleOrder(n, { seed: 1, shard: { index, count: 3, remainder: "none" } }),
    );
    expect(nones.map((p) => p.length)).toEqual([4, 3, 3]);
    expect(nones.flatMap((p) => [...p]).sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
    expect(() => sampleOrder(n, { shard: { index: 3, count: 3 } })).toThrow(/bad shard/);
  });
});

describe("flips", () => {
  it("are per (seed, epoch, index), about half, independent of batching", () => {
    const idx = Int32Array.from({ length: 2000 }, (_, i) => i);
    const f = flipsFor(5, 2, idx);
    const ones = f.reduce((a, b) => a + b, 0);
    expect(ones).toBeGreaterThan(900);
    expect(ones).toBeLessThan(1100);
    expect(flipFor(5, 2, 1234)).toBe(f[1234] === 1);
    expect(flipFor(5, 2, 17)).toBe(new Rng(5).stream(FLIP_STREAM, 2).uniform(17, 1)[0] < 0.5);
    expect(flipsFor(5, 3, idx)).not.toEqual(f);
  });
});
