import type { Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import {
  featureStats,
  formatDistance,
  frechetDistance,
  frechetDistanceDetailed,
  type GaussianStats,
  StatsAccumulator,
} from "../src";
import { loadCase, relMaxError, rng } from "./golden";

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

function gaussian(tensors: Map<string, Tensor>, mu: string, sigma: string): GaussianStats {
  const m = tensors.get(mu)!.toFloat64();
  return { dim: m.length, mu: m, sigma: tensors.get(sigma)!.toFloat64() };
}

describe("golden fid_math_64d: features -> mu/sigma -> FID as pytorch-fid (scipy sqrtm)", async () => {
  const { tensors, meta } = await loadCase("metrics/fid_math_64d");
  const outputs = meta.outputs as Record<string, number>;
  const f1 = tensors.get("features1")!;
  const f2 = tensors.get("features2")!;

  test("mu (mean) and sigma (np.cov, ddof 1) from float32 features, accumulated in float64", () => {
    const s1 = featureStats(f1.data as Float32Array, 64);
    const s2 = featureStats(f2.data as Float32Array, 64);
    expect(s1.n).toBe(1000);
    expect(s2.n).toBe(800);
    expect(relMaxError(s1.mu, tensors.get("mu1")!.toFloat64())).toBeLessThan(1e-13);
    expect(relMaxError(s1.sigma, tensors.get("sigma1")!.toFloat64())).toBeLessThan(1e-12);
    expect(relMaxError(s2.mu, tensors.get("mu2")!.toFloat64())).toBeLessThan(1e-13);
    expect(relMaxError(s2.sigma, tensors.get("sigma2")!.toFloat64())).toBeLessThan(1e-12);
  });

  test("FID from our statistics matches scipy's value (1e-6 relative; achieved ~1e-13)", () => {
    const s1 = featureStats(f1.data as Float32Array, 64);
    const s2 = featureStats(f2.data as Float32Array, 64);
    for (const method of ["cholesky", "eigh"] as const) {
      const r = frechetDistanceDetailed(s1, s2, { method });
      expect(rel(r.value, outputs.fid)).toBeLessThan(1e-10);
      expect(rel(r.meanTerm, outputs.mean_term)).toBeLessThan(1e-12);
      expect(rel(r.traceSigma1, outputs.trace_sigma1)).toBeLessThan(1e-12);
      expect(rel(r.traceSqrt, outputs.trace_sqrt_eigh)).toBeLessThan(1e-10);
      expect(rel(r.eigenvalueRange[0], outputs.eig_min_r_s2_r)).toBeLessThan(1e-8);
      expect(rel(r.eigenvalueRange[1], outputs.eig_max_r_s2_r)).toBeLessThan(1e-10);
    }
  });

  test("FID from the golden mu/sigma: scipy value, swapped arguments, eigen-route value", () => {
    const a = gaussian(tensors, "mu1", "sigma1");
    const b = gaussian(tensors, "mu2", "sigma2");
    expect(rel(frechetDistance(a, b), outputs.fid)).toBeLessThan(1e-12);
    expect(rel(frechetDistance(b, a), outputs.fid_args_swapped)).toBeLessThan(1e-12);
    expect(rel(frechetDistance(a, b, { method: "eigh" }), outputs.fid_eigh)).toBeLessThan(1e-12);
  });

  test("streaming: shards of any size merge to the same statistics", () => {
    const data = f1.data as Float32Array;
    const whole = new StatsAccumulator(64).add(data).stats();
    const shards = [0, 1, 3, 250, 511, 1000];
    const merged = new StatsAccumulator(64);
    for (let i = 0; i + 1 < shards.length; i++) {
      merged.merge(new StatsAccumulator(64).add(data.subarray(shards[i] * 64, shards[i + 1] * 64)));
    }
    const m = merged.stats();
    expect(m.n).toBe(1000);
    expect(relMaxError(m.mu, whole.mu)).toBeLessThan(1e-14);
    expect(relMaxError(m.sigma, whole.sigma)).toBeLessThan(1e-13);
    // stats files keep n, mu, sigma: rebuilding the sums from them merges too
    const half1 = new StatsAccumulator(64).add(data.subarray(0, 400 * 64)).stats();
    const half2 = new StatsAccumulator(64).add(data.subarray(400 * 64)).stats();
    const rebuilt = StatsAccumulator.fromStats(half1).merge(StatsAccumulator.fromStats(half2)).stats();
    expect(relMaxError(rebuilt.sigma, whole.sigma)).toBeLessThan(1e-12);
  });
});

describe("golden fid_math_512d: FID from mu/sigma only", async () => {
  const { tensors, meta } = await loadCase("metrics/fid_math_512d");
  const outputs = meta.outputs as Record<string, number>;
  const a = gaussian(tensors, "mu1", "sigma1");
  const b = gaussian(tensors, "mu2", "sigma2");

  test("107.684... within 1e-6 relative of scipy (both routes, both orders)", () => {
    for (const method of ["cholesky", "eigh"] as const) {
      const r = frechetDistanceDetailed(a, b, { method });
      expect(rel(r.value, outputs.fid)).toBeLessThan(1e-10);
      expect(rel(frechetDistance(b, a, { method }), outputs.fid_args_swapped)).toBeLessThan(1e-10);
      expect(rel(r.traceSqrt, outputs.trace_sqrt_scipy)).toBeLessThan(1e-10);
    }
    expect(rel(frechetDistance(a, b, { method: "eigh" }), outputs.fid_eigh)).toBeLessThan(1e-12);
  });
});

describe("Frechet distance properties", () => {
  test("zero for identical statistics, dimension checks", () => {
    const r = rng(1);
    const rows = Float64Array.from({ length: 300 * 12 }, () => r());
    const s = featureStats(rows, 12);
    expect(Math.abs(frechetDistance(s, s))).toBeLessThan(1e-12);
    // reported as 0.0000 whatever the rounding noise's sign
    expect([formatDistance(-1e-12), formatDistance(-0), formatDistance(12.34567)]).toEqual([
      "0.0000",
      "0.0000",
      "12.3457",
    ]);
    const t = featureStats(rows.subarray(0, 50 * 10), 10);
    expect(() => frechetDistance(s, t)).toThrow(/different dimensions: 12 and 10/);
    expect(() => new StatsAccumulator(3).stats()).toThrow(/at least 2/);
    expect(() => new StatsAccumulator(3).add([1, 2])).toThrow(/rows of 3/);
    expect(() => new StatsAccumulator(2).add([1, Number.NaN])).toThrow(/non-finite/);
  });

  test("fewer samples than dimensions (singular covariances) still gives a finite FID", () => {
    const r = rng(2);
    const d = 64;
    const a = featureStats(
      Float64Array.from({ length: 20 * d }, () => r()),
      d,
    );
    const b = featureStats(
      Float64Array.from({ length: 30 * d }, () => r() + 0.1),
      d,
    );
    const x = frechetDistance(a, b);
    const y = frechetDistance(a, b, { method: "eigh" });
    expect(Number.isFinite(x)).toBe(true);
    expect(rel(x, y)).toBeLessThan(1e-6);
  });
});
