// The jobs of a sharded sampling run: one "shard" job per slice of the global sample indices and a
// parent "merge" job (a BullMQ flow) that runs once every shard is done. Job ids are deterministic, so
// submitting the same run twice adds nothing, and a shard's id says which slice it is.
import { createHash } from "node:crypto";
import { type SampleRange, shardRange } from "./shard";

/** Default BullMQ queue name. */
export const DEFAULT_QUEUE = "flowturbo";
/** BullMQ job names. */
export const SHARD_JOB = "shard";
export const MERGE_JOB = "merge";

/** What one shard job carries: which slice, where to write, and the sampling options (opaque here). */
export interface ShardJobData {
  /** The run's id (every job id of the run starts with it). */
  job: string;
  /** k of "k/K". */
  shard: number;
  /** K of "k/K". */
  shards: number;
  /** Samples in the whole run. */
  total: number;
  /** Global sample indices of this shard: shardRange(`${shard}/${shards}`, total). */
  range: SampleRange;
  /** Output root shared by all workers (each shard writes its own folder under it). */
  out: string;
  /** Arguments for the shard runner (for the CLI: `flowturbo sample` flags). */
  args: string[];
}

/** What the merge job carries. */
export interface MergeJobData {
  job: string;
  shards: number;
  total: number;
  out: string;
  /** Arguments for the merge runner (for the CLI: `flowturbo eval merge` flags). */
  args: string[];
}

/** Progress a shard reports (stored as the BullMQ job progress). */
export interface ShardProgress {
  done: number;
  total: number;
  stage?: string;
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Checks a run id (used in Redis keys and job ids: letters, digits, '.', '_', '-'; no ':'). */
export function checkJobName(job: string): string {
  if (!JOB_NAME.test(job))
    throw new Error(
      `job name '${job}': expected 1-100 letters, digits, '.', '_' or '-' (starting with a letter or digit)`,
    );
  return job;
}

/** Id of shard k of run `job`. */
export function shardJobId(job: string, shard: number): string {
  return `${job}.shard-${shard}`;
}

/** Id of the merge job of run `job`. */
export function mergeJobId(job: string): string {
  return `${job}.merge`;
}

/** A run id derived from everything that defines the run's output (same inputs, same id). */
export function defaultJobName(spec: unknown): string {
  return `ft-${createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 12)}`;
}

/** The K shards of `total` samples (sizes differ by at most one), as shard job payloads. */
export function planShards(spec: Omit<ShardJobData, "shard" | "range">): ShardJobData[] {
  if (!Number.isInteger(spec.shards) || spec.shards < 1)
    throw new Error(`shards must be an integer >= 1, got ${spec.shards}`);
  if (spec.shards > Math.max(1, spec.total))
    throw new Error(`${spec.shards} shards for ${spec.total} samples: some shards would be empty`);
  return Array.from({ length: spec.shards }, (_, k) => ({
    ...spec,
    shard: k,
    range: shardRange(`${k}/${spec.shards}`, spec.total),
  }));
}

/** K for a shard size: ceil(total / shardSize). */
export function shardCount(total: number, shardSize: number): number {
  if (!Number.isInteger(shardSize) || shardSize < 1)
    throw new Error(`shard size must be an integer >= 1, got ${shardSize}`);
  return Math.max(1, Math.ceil(total / shardSize));
}
