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
  const na = a.meta?.convention;
  const nb = b.meta?.convention;
  const network = (c: typeof na) =>
    c ? `${c.network}${c.weights ? ` (${c.weights.slice(0, 12)})` : ""}` : undefined;
  const emoji = na?.network === "emoji-classifier" || nb?.network === "emoji-classifier";
  if (emoji && network(na) !== network(nb))
    throw new Error(
      `the two sides are features of different networks (${network(na) ?? "not recorded"} vs ${network(nb) ?? "not recorded"}): their distance means nothing`,
    );
  const fid = frechetDistanceDetailed(a.pool, b.pool, options);
  let sfid: FrechetResult | undefined;
  if (a.spatial && b.spatial) sfid = frechetDistanceDetailed(a.spatial, b.spatial, options);
  else if (!emoji) notes.push("sFID skipped: mu_s/sigma_s missing on one side");
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
    // Inception's pool3 has 2048 features; FD-emoji's the classifier's width
    const dim = emoji ? s.pool.dim : 2048;
    if (n !== undefined && n < dim) {
      notes.push(
        `${label} set has ${n} images (< ${dim}): its covariance is singular and FID is biased upwards`,
      );
    }
  }
  return { fid, sfid, notes };
}
