import { describe, expect, it } from "vitest";
import {
  fnv1a32,
  LABEL_STREAM,
  labelForSample,
  labelsForSamples,
  NOISE_STREAM,
  noiseBatch,
  noiseForSample,
  philox4x32,
  Rng,
  RngStream,
  randomBernoulli,
  randomInt,
  randomNormal,
  randomPermutation,
  randomUniform,
  randomWords,
  seedKey,
  streamId,
  Tensor,
} from "../../src/index";

const hexBits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

function moments(a: ArrayLike<number>) {
  const n = a.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i];
  const mean = s / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = a[i] - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  return { mean, variance: m2, skewness: m3 / m2 ** 1.5, excessKurtosis: m4 / (m2 * m2) - 3 };
}

describe("stream layout", () => {
  it("word n is Philox4x32-10 of counter [n/4 lo, n/4 hi, subsequence, stream id] under the seed key", () => {
    const seed = 2n ** 40n + 12345n;
    const s = new Rng(seed).stream("noise", 17);
    expect(s.key).toEqual([12345, 256]);
    expect(s.streamId).toBe(fnv1a32("noise"));
    expect(s.streamId).toBe(0x904416d1);
    const w = s.words(0, 12);
    for (let b = 0; b < 3; b++) {
      const block = philox4x32([b, 0, 17, 0x904416d1], [12345, 256]);
      expect([...w.subarray(4 * b, 4 * b + 4)]).toEqual([...block]);
    }
    // a block index >= 2^32 carries into counter word 1
    const far = new RngStream(seed, 3, 0).words(4 * 2 ** 32 + 4, 4);
    expect([...far]).toEqual([...philox4x32([1, 1, 0, 3], [12345, 256])]);
  });

  it("seeds: numbers and bigints agree; invalid seeds are rejected", () => {
    expect(seedKey(0)).toEqual([0, 0]);
    expect(seedKey(2 ** 53 - 1)).toEqual([0xffffffff, 0x1fffff]);
    expect(seedKey(2n ** 64n - 1n)).toEqual([0xffffffff, 0xffffffff]);
    expect(randomWords(123456789, 0, 0, 8)).toEqual(randomWords(123456789n, 0, 0, 8));
    for (const bad of [-1, 0.5, 2 ** 53, Number.NaN]) expect(() => seedKey(bad)).toThrow();
    expect(() => seedKey(2n ** 64n)).toThrow();
    expect(() => seedKey(-1n)).toThrow();
    expect(streamId(7)).toBe(7);
    expect(() => streamId(-1)).toThrow();
    expect(() => streamId(2 ** 32)).toThrow();
    expect(() => new RngStream(0, 0, 2 ** 32)).toThrow();
  });

  it("pinned values, cross-checked with an independent Python implementation of README.md", () => {
    expect(hexBits(noiseForSample(0, 0, [8]))).toEqual([
      0x3fd23d6d, 0xbe698d71, 0xbf0bca72, 0xbeb93571, 0x401894f3, 0x3e7a4202, 0xbf2ad1ee, 0xbef8e404,
    ]);
    expect(hexBits(noiseForSample(12345, 7, [2, 3]))).toEqual([
      0x3ef82488, 0x3fdd38d7, 0xbf23c37f, 0x3e3f69b8, 0xbf964802, 0xbe41cf64,
    ]);
    expect(hexBits(new Rng(2n ** 40n + 3n).stream("noise/sde/step3", 99).normal(1001, 5))).toEqual([
      0xbf8f515b, 0xbec3a088, 0xbe7520e6, 0xbf9396ce, 0x3de6d8ed,
    ]);
    expect([...randomWords(42, 5, 6, 6)]).toEqual([
      0x8090cd62, 0x43246377, 0x05759319, 0xf11c2e11, 0x0a4708ed, 0xd2c817c3,
    ]);
    expect([...new Rng(2n ** 64n - 1n).stream(0xffffffff, 0xffffffff).words(0, 4)]).toEqual([
      0x3d3be307, 0x716983d6, 0x70094bed, 0x36c3cf91,
    ]);
    expect(hexBits(randomUniform(7, "t", 3, 5))).toEqual([
      0x3e7577f0, 0x3dfb51e8, 0x3f4d068f, 0x3f1d8ea1, 0x3de7ac20,
    ]);
    expect([...randomInt(7, "labels", 10, 6, -5, 1000)]).toEqual([604, 213, 809, 552, 546, 985]);
    expect([...randomPermutation(3, "epoch/0", 12)]).toEqual([10, 5, 0, 9, 8, 6, 1, 11, 2, 7, 3, 4]);
    expect([...randomBernoulli(9, "drop", 0, 12, 0.5)]).toEqual([0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]);
  });

  it("is positional: any window equals the same slice of a longer request", () => {
    const s = new Rng(99).stream("x");
    const words = s.words(0, 64);
    const normals = s.normal(0, 64);
    const uniforms = s.uniform(0, 64);
    const ints = s.int(0, 32, 0, 10);
    const coins = s.bernoulli(0, 64, 0.3);
    for (const [start, count] of [
      [0, 0],
      [0, 1],
      [1, 1],
      [3, 5],
      [5, 2],
      [7, 20],
      [13, 31],
      [31, 1],
    ]) {
      expect(s.words(start, count)).toEqual(words.slice(start, start + count));
      expect(hexBits(s.normal(start, count))).toEqual(hexBits(normals.slice(start, start + count)));
      expect(s.uniform(start, count)).toEqual(uniforms.slice(start, start + count));
      expect(s.bernoulli(start, count, 0.3)).toEqual(coins.slice(start, start + count));
      if (start + count <= 32) expect(s.int(start, count, 0, 10)).toEqual(ints.slice(start, start + count));
    }
    expect(randomNormal(99, "x", 5, 9)).toEqual(normals.slice(5, 14));
  });

  it("different seeds, streams and subsequences give different numbers", () => {
    const base = randomWords(1, "a", 0, 16);
    expect(randomWords(2, "a", 0, 16)).not.toEqual(base);
    expect(randomWords(1, "b", 0, 16)).not.toEqual(base);
    expect(randomWords(1n + 2n ** 32n, "a", 0, 16)).not.toEqual(base); // the high key word matters
    expect(new Rng(1).stream("a", 1).words(0, 16)).not.toEqual(base);
    expect(noiseForSample(1, 0, [16])).not.toEqual(noiseForSample(1, 1, [16]));
    expect(noiseForSample(1, 0, [16])).not.toEqual(noiseForSample(2, 0, [16]));
    expect(noiseForSample(1, 0, [16], "other")).not.toEqual(noiseForSample(1, 0, [16]));
    // no shared values between neighbouring sample noises (a shift/overlap bug would show up here)
    const a = new Set(noiseForSample(5, 0, [4096]));
    let shared = 0;
    for (const v of noiseForSample(5, 1, [4096])) if (a.has(v)) shared++;
    expect(shared).toBeLessThan(5);
  });
});

describe("distributions", () => {
  it("uniform: [0, 1), mean 1/2, variance 1/12 on 1e5 samples", () => {
    const u = randomUniform(2024, "uniform-test", 0, 100_000);
    let lo = 1;
    let hi = 0;
    for (const v of u) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    const m = moments(u);
    // standard errors: mean 0.00091, variance 0.00024
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(5 * 0.00091);
    expect(Math.abs(m.variance - 1 / 12)).toBeLessThan(5 * 0.00024);
    // 20-bin histogram: chi-square with 19 d.o.f. (99.9% quantile 43.8)
    const bins = new Array(20).fill(0);
    for (const v of u) bins[Math.floor(v * 20)]++;
    const chi2 = bins.reduce((acc, c) => acc + (c - 5000) ** 2 / 5000, 0);
    expect(chi2).toBeLessThan(43.8);
  });

  it("normal: mean 0, variance 1, skewness 0, excess kurtosis 0 on 1e5 samples", () => {
    const z = noiseForSample(31337, 0, [100_000]);
    const m = moments(z);
    // standard errors: mean 0.0032, variance 0.0045, skewness 0.0077, kurtosis 0.0155
    expect(Math.abs(m.mean)).toBeLessThan(5 * 0.0032);
    expect(Math.abs(m.variance - 1)).toBeLessThan(5 * 0.0045);
    expect(Math.abs(m.skewness)).toBeLessThan(5 * 0.0077);
    expect(Math.abs(m.excessKurtosis)).toBeLessThan(5 * 0.0155);
    // tail mass beyond 2 and 3 sigma (expected 4.55% and 0.27%)
    let beyond2 = 0;
    let beyond3 = 0;
    let maxAbs = 0;
    for (const v of z) {
      const a = Math.abs(v);
      if (a > 2) beyond2++;
      if (a > 3) beyond3++;
      maxAbs = Math.max(maxAbs, a); // NaN would make maxAbs NaN and fail below
    }
    expect(Math.abs(beyond2 / 1e5 - 0.0455)).toBeLessThan(5 * 0.00066);
    expect(Math.abs(beyond3 / 1e5 - 0.0027)).toBeLessThan(5 * 0.000164);
    expect(maxAbs).toBeLessThan(6.67); // sqrt(-2 ln 2^-32) = 6.66 caps |z|
    // the cos and sin halves of each pair are uncorrelated
    let cross = 0;
    for (let i = 0; i < z.length; i += 2) cross += z[i] * z[i + 1];
    expect(Math.abs(cross / 50_000)).toBeLessThan(5 / Math.sqrt(50_000));
  });

  it("int: within [low, high), every value about equally likely", () => {
    const v = randomInt(5, "int-test", 0, 70_000, -3, 4);
    const counts = new Map<number, number>();
    for (const x of v) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    const chi2 = [...counts.values()].reduce((acc, c) => acc + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(22.5); // 6 d.o.f., 99.9%
    const wide = randomInt(5, "int-wide", 0, 1000, -(2 ** 31), 2 ** 31);
    expect(new Set(wide).size).toBe(1000);
    expect(() => randomInt(5, "x", 0, 1, 3, 3)).toThrow();
    expect(() => randomInt(5, "x", 0, 1, 0, 2 ** 31 + 1)).toThrow();
  });

  it("bernoulli: frequency p; p = 0 and p = 1 are exact", () => {
    const b = randomBernoulli(8, "coin", 0, 100_000, 0.1);
    const ones = b.reduce((acc, x) => acc + x, 0);
    expect(Math.abs(ones / 1e5 - 0.1)).toBeLessThan(5 * 0.00095);
    expect(randomBernoulli(8, "coin", 0, 1000, 0).every((x) => x === 0)).toBe(true);
    expect(randomBernoulli(8, "coin", 0, 1000, 1).every((x) => x === 1)).toBe(true);
    expect(() => randomBernoulli(8, "coin", 0, 1, 1.5)).toThrow();
  });
});

describe("permutation", () => {
  it("is a deterministic permutation", () => {
    for (const n of [0, 1, 2, 3, 10, 1000, 50_000]) {
      const p = randomPermutation(17, "perm", n);
      expect(p.length).toBe(n);
      expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(randomPermutation(17, "perm", n)).toEqual(p);
    }
    expect(randomPermutation(17, "perm", 100)).not.toEqual(randomPermutation(18, "perm", 100));
    expect(randomPermutation(17, "perm", 100)).not.toEqual(randomPermutation(17, "perm2", 100));
  });

  it("draws all 24 orders of 4 elements about equally often", () => {
    const rng = new Rng(4);
    const counts = new Map<string, number>();
    const trials = 24_000;
    for (let i = 0; i < trials; i++) {
      const key = rng.stream("perm4", i).permutation(4).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    const chi2 = [...counts.values()].reduce((acc, c) => acc + (c - 1000) ** 2 / 1000, 0);
    expect(chi2).toBeLessThan(49.7); // 23 d.o.f., 99.9%
  });
});

describe("per-sample noise", () => {
  const shape = [4, 8, 8];

  it("noiseBatch rows equal noiseForSample for each index", () => {
    const batch = noiseBatch(123, 3, 5, shape);
    expect(batch).toBeInstanceOf(Tensor);
    expect(batch.dtype).toBe("float32");
    expect(batch.shape).toEqual([5, 4, 8, 8]);
    for (let i = 0; i < 5; i++) {
      expect(hexBits(batch.sliceRows(i, i + 1).data)).toEqual(hexBits(noiseForSample(123, 3 + i, shape)));
    }
  });

  it("does not depend on how a batch is split", () => {
    const whole = noiseBatch(123, 0, 8, shape);
    const split = Tensor.concatRows([noiseBatch(123, 0, 3, shape), noiseBatch(123, 3, 5, shape)]);
    expect(hexBits(split.data)).toEqual(hexBits(whole.data));
    const singles = Tensor.concatRows(Array.from({ length: 8 }, (_, i) => noiseBatch(123, i, 1, shape)));
    expect(hexBits(singles.data)).toEqual(hexBits(whole.data));
  });

  it("is the normal stream 'noise' with subsequence = sample index", () => {
    expect(NOISE_STREAM).toBe("noise");
    expect(noiseForSample(9, 6, [2, 5])).toEqual(new Rng(9).stream("noise", 6).normal(0, 10));
    expect(noiseForSample(9, 6, [2, 5], "sde/1")).toEqual(new Rng(9).stream("sde/1", 6).normal(0, 10));
    expect(noiseBatch(9, 0, 0, shape).shape).toEqual([0, 4, 8, 8]);
    expect(() => noiseForSample(9, -1, shape)).toThrow();
    expect(() => noiseBatch(9, 2 ** 32 - 1, 2, shape)).toThrow();
    expect(() => noiseForSample(9, 0, [2, -1])).toThrow();
  });
});

describe("labels for samples", () => {
  it("are the int(0, numClasses) elements of stream 'sample/label' at the global sample index", () => {
    expect(streamId(LABEL_STREAM)).toBe(0xfde41666);
    expect([...labelsForSamples(0, 0, 12, 9)]).toEqual([5, 1, 3, 8, 4, 6, 0, 1, 5, 8, 4, 0]);
    expect([...labelsForSamples(12345, 1000, 6, 1000)]).toEqual([916, 410, 880, 168, 640, 379]);
    expect(labelsForSamples(7, 3, 20, 10)).toEqual(randomInt(7, LABEL_STREAM, 3, 20, 0, 10));
  });

  it("do not depend on how the samples are split into shards", () => {
    const whole = labelsForSamples(42, 0, 50, 1000);
    for (const [a, b] of [
      [0, 13],
      [13, 14],
      [14, 50],
    ])
      expect(labelsForSamples(42, a, b - a, 1000)).toEqual(whole.subarray(a, b));
    for (let i = 0; i < 50; i++) expect(labelForSample(42, i, 1000)).toBe(whole[i]);
    expect(labelsForSamples(43, 0, 50, 1000)).not.toEqual(whole);
  });

  it("cover every class about equally and reject bad class counts", () => {
    const counts = new Array(9).fill(0);
    for (const c of labelsForSamples(1, 0, 9000, 9)) counts[c]++;
    // chi-square with 8 d.o.f. (99.9% quantile 26.1)
    expect(counts.reduce((acc, c) => acc + (c - 1000) ** 2 / 1000, 0)).toBeLessThan(26.1);
    expect(() => labelForSample(0, 0, 0)).toThrow(/numClasses/);
    expect(() => labelsForSamples(0, -1, 2, 5)).toThrow(/non-negative/);
  });
});
