import { concatBytes, openNpz, randomNormal } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import {
  type FeatureConvention,
  FeatureMomentsAccumulator,
  featureStats,
  type GaussianStats,
  mergeMoments,
  mergeMomentsFiles,
  momentsNpzChunks,
  MomentsAccumulator,
  momentsStats,
  readMomentsNpz,
  StatsAccumulator,
  statsFromMoments,
} from "../src";

/** Correlated features with a large mean (so sigma comes out of a real cancellation). */
function features(n: number, dim: number, seed: number): Float64Array {
  const z = randomNormal(seed, "moments-test", 0, n * dim);
  const x = new Float64Array(n * dim);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < dim; i++) x[r * dim + i] = 50 + 3 * z[r * dim + i] + (i > 0 ? z[r * dim + i - 1] : 0);
  }
  return x;
}

function maxRelDiff(a: GaussianStats, b: GaussianStats): number {
  let worst = 0;
  const scale = (v: Float64Array) => Math.max(...v.map(Math.abs));
  for (const [x, y] of [
    [a.mu, b.mu],
    [a.sigma, b.sigma],
  ] as const) {
    const s = scale(y);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / s);
  }
  return worst;
}

/** Bitwise equality of float64 arrays (vitest's toEqual is slow on millions of elements). */
function sameBits(a: Float64Array, b: Float64Array): boolean {
  return (
    a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    )
  );
}

const CONVENTION: FeatureConvention = {
  network: "pt_inception-2015-12-05",
  input: "uint8",
  preprocess: "pytorch-fid",
};

describe("feature moments", () => {
  test("moments of parts merge to the whole set's mu and sigma (ddof 1): within 1e-12, and the same bits whatever the split", () => {
    const dim = 37;
    const n = 101;
    // float32 features, as the Inception network gives them
    const x = new Float32Array(features(n, dim, 3));
    const whole = featureStats(x, dim);
    const reference = momentsStats(new MomentsAccumulator(dim).add(x).moments());
    expect(maxRelDiff(reference, whole)).toBeLessThan(1e-12);
    for (const cuts of [
      [0, 101],
      [0, 1, 2, 101],
      [0, 25, 50, 76, 101],
      [0, 33, 34, 100, 101],
    ]) {
      const parts = [];
      for (let k = 0; k + 1 < cuts.length; k++)
        parts.push(new MomentsAccumulator(dim).add(x.subarray(cuts[k] * dim, cuts[k + 1] * dim)).moments());
      for (const order of [parts, [...parts].reverse()]) {
        const merged = mergeMoments(order);
        expect(merged.n).toBe(n);
        const stats = momentsStats(merged);
        expect(stats.n).toBe(n);
        expect(maxRelDiff(stats, whole)).toBeLessThan(1e-12);
        expect(sameBits(stats.mu, reference.mu)).toBe(true);
        expect(sameBits(stats.sigma, reference.sigma)).toBe(true);
      }
      // plain (uncompensated) sums of the same parts merge within rounding too
      const plain = cuts
        .slice(1)
        .map((end, k) => new StatsAccumulator(dim).add(x.subarray(cuts[k] * dim, end * dim)).moments());
      expect(maxRelDiff(momentsStats(mergeMoments(plain)), whole)).toBeLessThan(1e-12);
    }
  });

  test("moments round-trip exactly through the accumulator; sigma uses n - 1 as stats() does", () => {
    const dim = 5;
    const x = features(9, dim, 4);
    const acc = new StatsAccumulator(dim).add(x);
    const m = acc.moments();
    expect(m.sumOuter.length).toBe(15);
    expect(momentsStats(m)).toEqual(acc.stats());
    // packed upper triangle row by row: (0,0), (0,1), ..., (0,4), (1,1), ...
    let s01 = 0;
    for (let r = 0; r < 9; r++) s01 += x[r * dim] * x[r * dim + 1];
    expect(m.sumOuter[1]).toBeCloseTo(s01, 9);
    const st = momentsStats(m);
    const mu0 = m.sum[0] / 9;
    expect(st.sigma[0]).toBeCloseTo((m.sumOuter[0] - 9 * mu0 * mu0) / 8, 9);
    expect(() => momentsStats({ ...m, sumOuter: m.sumOuter.subarray(1) })).toThrow(/sum_outer 14 values/);
  });

  test("moments files: written, read back bit for bit, merged in order into stats", async () => {
    const make = (seed: number, n: number, start: number) => {
      const acc = new FeatureMomentsAccumulator();
      const pool3 = new Float32Array(features(n, 2048, seed));
      const spatial = new Float32Array(features(n, 2023, seed + 100));
      acc.add({ count: n, pool3, spatial, logitsNoBias: new Float32Array(n * 1008) }, CONVENTION);
      return { acc, file: acc.moments({ range: { start, end: start + n } }) };
    };
    const a = make(1, 3, 0);
    const b = make(2, 4, 3);
    const bytes = concatBytes([...momentsNpzChunks(a.file)]);
    const back = await readMomentsNpz(await openNpz(bytes, { name: "a.npz" }));
    expect(back.meta).toEqual(a.file.meta);
    expect(sameBits(back.pool.sum, a.file.pool.sum)).toBe(true);
    expect(sameBits(back.pool.sumOuter, a.file.pool.sumOuter)).toBe(true);
    expect(sameBits(back.spatial!.sumOuter, a.file.spatial!.sumOuter)).toBe(true);
    const merged = mergeMomentsFiles([back, b.file], "job");
    expect(merged.meta.n).toBe(7);
    const stats = statsFromMoments(merged);
    const whole = momentsStats(a.acc.pool.merge(b.acc.pool.moments()).moments());
    expect(sameBits(stats.pool.mu, whole.mu)).toBe(true);
    expect(sameBits(stats.pool.sigma, whole.sigma)).toBe(true);
    expect(sameBits(back.pool.sumOuterLo!, a.file.pool.sumOuterLo!)).toBe(true);
    expect(stats.spatial!.dim).toBe(2023);
    expect(stats.meta).toMatchObject({ n: 7, convention: CONVENTION, source: "job" });
  });

  test("parts of different conventions do not merge; foreign files are named", async () => {
    const dim = 4;
    const pool = new StatsAccumulator(dim).add(features(3, dim, 1)).moments();
    const meta = {
      format: "flowturbo-feature-moments" as const,
      version: 1 as const,
      n: 3,
      convention: CONVENTION,
    };
    const other = { ...meta, convention: { ...CONVENTION, input: "float" as const } };
    expect(() =>
      mergeMomentsFiles([
        { pool, meta },
        { pool, meta: other },
      ]),
    ).toThrow(/different feature conventions/);
    const stats = concatBytes([...momentsNpzChunks({ pool, meta })]);
    const npz = await openNpz(stats, { name: "x.npz" });
    expect((await readMomentsNpz(npz)).pool.n).toBe(3);
  });
});
