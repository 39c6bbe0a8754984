// Comparing two sets of statistics: FID (pool3) and sFID (spatial), with notes on conventions.
import { type FrechetOptions, type FrechetResult, frechetDistanceDetailed } from "./fid";
import type { StatsFile } from "./statsFile";

export interface FidComparison {
  /** FID between the pool3 statistics. */
  fid: FrechetResult;
  /** sFID, when both sides have spatial statistics (mu_s, sigma_s). */
  sfid?: FrechetResult;
  /** Human-readable caveats (different conventions, missing sFID statistics, few samples). */
  notes: string[];
}

function describe(s: StatsFile): string {
  const c = s.meta?.convention;
  return c ? `${c.input} input, ${c.preprocess} preprocessing` : "precomputed (convention not recorded)";
}

/** FID and sFID between two stats files (either order gives the same value to rounding). */
export function compareStats(a: StatsFile, b: StatsFile, options: FrechetOptions = {}): FidComparison {
  const notes: string[] = [];
  const fid = frechetDistanceDetailed(a.pool, b.pool, options);
  let sfid: FrechetResult | undefined;
  if (a.spatial && b.spatial) sfid = frechetDistanceDetailed(a.spatial, b.spatial, options);
  else notes.push("sFID skipped: mu_s/sigma_s missing on one side");
  const ca = a.meta?.convention;
  const cb = b.meta?.convention;
  if (ca && cb && (ca.input !== cb.input || ca.preprocess !== cb.preprocess)) {
    notes.push(`the two sides use different conventions (${describe(a)} vs ${describe(b)})`);
  }
  if (!ca || !cb) {
    notes.push(
      "one side is a precomputed statistics file without a recorded convention (an ADM reference batch's mu/sigma come from the TF Inception graph with TF preprocessing)",
    );
  }
  for (const [label, s] of [
    ["first", a],
    ["second", b],
  ] as const) {
    const n = s.pool.n;
    if (n !== undefined && n < 2048) {
      notes.push(
        `${label} set has ${n} images (< 2048): its covariance is singular and FID is biased upwards`,
      );
    }
  }
  return { fid, sfid, notes };
}
