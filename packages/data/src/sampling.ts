// Deterministic shuffling, sharding and flips from the project's counter-based RNG (@flowturbo/tensor's
// Philox streams): a pure function of (seed, epoch, shard), identical in Node and browsers.

import { Rng, type Seed } from "@flowturbo/tensor";

/** RNG stream of the per-epoch permutation (subsequence = epoch). */
export const SHUFFLE_STREAM = "data/shuffle";
/** RNG stream of the random horizontal flips (subsequence = epoch, position = sample index). */
export const FLIP_STREAM = "data/flip";

/** One process's share of a dataset, like torch's DistributedSampler(num_replicas=count, rank=index). */
export interface ShardSpec {
  index: number;
  count: number;
  /**
   * How uneven sizes are handled: "pad" (default, as DistributedSampler) repeats the first indices of the
   * order so every shard has ceil(n / count) samples; "drop" cuts the tail so every shard has
   * floor(n / count); "none" leaves shards unequal.
   */
  remainder?: "pad" | "drop" | "none";
}

export interface SampleOrderOptions {
  seed?: Seed;
  epoch?: number;
  /** Shuffle (default true); false keeps 0..n-1. */
  shuffle?: boolean;
  shard?: ShardSpec;
}

/**
 * The sample indices one process visits in one epoch: the permutation
 * `new Rng(seed).stream("data/shuffle", epoch).permutation(n)` (or 0..n-1 unshuffled), then positions
 * `shard.index, shard.index + count, ...` of it. Every shard of one (seed, epoch) sees the same
 * permutation, so shards are disjoint (except the "pad" repeats) and together cover the dataset.
 */
export function sampleOrder(n: number, options: SampleOrderOptions = {}): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`dataset size must be a non-negative integer, got ${n}`);
  const epoch = options.epoch ?? 0;
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= 2 ** 32)
    throw new Error(`epoch must be an integer in [0, 2^32), got ${epoch}`);
  let order: Int32Array;
  if (options.shuffle ?? true)
    order = new Rng(options.seed ?? 0).stream(SHUFFLE_STREAM, epoch).permutation(n);
  else order = Int32Array.from({ length: n }, (_, i) => i);
  const shard = options.shard;
  if (!shard) return order;
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count)
    throw new Error(`bad shard ${index} of ${count}: need integers 0 <= index < count`);
  const mode = shard.remainder ?? "pad";
  let total = n;
  if (mode === "pad") total = Math.ceil(n / count) * count;
  else if (mode === "drop") total = Math.floor(n / count) * count;
  if (mode === "pad" && n === 0) total = 0;
  const out: number[] = [];
  for (let p = index; p < total; p += count) out.push(order[p % n]);
  return Int32Array.from(out);
}

/**
 * Whether sample `index` is mirrored in `epoch`: uniform element `index` of stream
 * ("data/flip", subsequence epoch) is below 0.5. Independent of batching, order and sharding.
 */
export function flipFor(seed: Seed, epoch: number, index: number): boolean {
  return new Rng(seed).stream(FLIP_STREAM, epoch).uniform(index, 1)[0] < 0.5;
}

/** `flipFor` for many indices at once. */
export function flipsFor(seed: Seed, epoch: number, indices: ArrayLike<number>): Uint8Array {
  const stream = new Rng(seed).stream(FLIP_STREAM, epoch);
  const out = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = stream.uniform(indices[i], 1)[0] < 0.5 ? 1 : 0;
  return out;
}
