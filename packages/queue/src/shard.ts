// Which global sample indices a shard holds. Every sample is a pure function of (seed, global index), so a
// shard is just a half-open index range [start, end) of the whole job.

export interface SampleRange {
  /** First global sample index (inclusive). */
  start: number;
  /** One past the last global sample index. */
  end: number;
}

/**
 * Shard k of K (0-based) of `total` samples: contiguous ranges whose sizes differ by at most one, the
 * larger ones first. `spec` is "k/K".
 */
export function shardRange(spec: string, total: number): SampleRange {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`shard '${spec}': expected k/K with 0 <= k < K, e.g. 0/4`);
  const k = Number(m[1]);
  const K = Number(m[2]);
  if (K < 1 || k >= K) throw new Error(`shard '${spec}': expected k/K with 0 <= k < K, e.g. 0/4`);
  if (!Number.isInteger(total) || total < 0)
    throw new Error(`shard: total must be an integer >= 0, got ${total}`);
  const base = Math.floor(total / K);
  const extra = total % K;
  const start = k * base + Math.min(k, extra);
  return { start, end: start + base + (k < extra ? 1 : 0) };
}

/** "a:b" -> [a, b), checked against `total` when given. */
export function parseRange(spec: string, total?: number): SampleRange {
  const m = /^(\d+):(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`range '${spec}': expected a:b with 0 <= a < b, e.g. 0:1000`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start >= end) throw new Error(`range '${spec}': expected a:b with a < b`);
  if (total !== undefined && end > total)
    throw new Error(`range '${spec}': ends past the ${total} samples of the job`);
  return { start, end };
}
