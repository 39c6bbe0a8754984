// The Frechet distance between two Gaussians, in float64:
// FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2).
import { type TraceSqrtMethod, trace, traceSqrtProduct } from "./linalg";
import type { GaussianStats } from "./stats";

export interface FrechetOptions {
  /**
   * How tr sqrt(S1 S2) is computed (both float64, symmetric, negative eigenvalues clipped to 0):
   * "cholesky" (default, ~5x faster) or "eigh" (S1^(1/2) from a full eigendecomposition). See
   * `traceSqrtProduct`.
   */
  method?: TraceSqrtMethod;
}

export interface FrechetResult {
  /** The distance (FID when the statistics are Inception pool3 features, sFID for the spatial ones). */
  value: number;
  /** |mu1 - mu2|^2 */
  meanTerm: number;
  traceSigma1: number;
  traceSigma2: number;
  /** tr sqrt(S1 S2) */
  traceSqrt: number;
  method: TraceSqrtMethod;
  /** Smallest and largest eigenvalue of S1^(1/2) S2 S1^(1/2) (the smallest may be slightly negative). */
  eigenvalueRange: [number, number];
  dim: number;
}

function checkStats(s: GaussianStats, what: string): void {
  if (s.mu.length !== s.dim || s.sigma.length !== s.dim * s.dim) {
    throw new Error(
      `${what}: mu has ${s.mu.length} values and sigma ${s.sigma.length} for dimension ${s.dim}`,
    );
  }
}

/** The Frechet distance between N(mu1, S1) and N(mu2, S2) with all the terms. */
export function frechetDistanceDetailed(
  a: GaussianStats,
  b: GaussianStats,
  options: FrechetOptions = {},
): FrechetResult {
  checkStats(a, "first statistics");
  checkStats(b, "second statistics");
  if (a.dim !== b.dim) {
    throw new Error(
      `statistics of different dimensions: ${a.dim} and ${b.dim} (pool3 is 2048-d, sFID's spatial 2023-d)`,
    );
  }
  const d = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < d; i++) {
    const diff = a.mu[i] - b.mu[i];
    meanTerm += diff * diff;
  }
  const traceSigma1 = trace(a.sigma, d);
  const traceSigma2 = trace(b.sigma, d);
  const ts = traceSqrtProduct(a.sigma, b.sigma, d, options.method ?? "cholesky");
  const ev = ts.eigenvalues;
  const value = meanTerm + traceSigma1 + traceSigma2 - 2 * ts.value;
  if (!Number.isFinite(value)) throw new Error("Frechet distance is not finite (non-finite statistics?)");
  return {
    value,
    meanTerm,
    traceSigma1,
    traceSigma2,
    traceSqrt: ts.value,
    method: ts.method,
    eigenvalueRange: ev.length ? [ev[0], ev[ev.length - 1]] : [0, 0],
    dim: d,
  };
}

/** FID (or sFID) between two sets of statistics. */
export function frechetDistance(a: GaussianStats, b: GaussianStats, options: FrechetOptions = {}): number {
  return frechetDistanceDetailed(a, b, options).value;
}

/** Alias of `frechetDistance` for pool3 statistics. */
export const fid = frechetDistance;

/**
 * A Fréchet distance for reports, 4 decimals: the distance is never negative, so rounding noise of
 * identical statistics (-1e-12) reads 0.0000, not -0.0000.
 */
export function formatDistance(value: number): string {
  return (Math.abs(value) < 5e-5 ? 0 : value).toFixed(4);
}
