// Submitting a run: a BullMQ flow with the merge job as parent of one job per shard.
import { type ConnectionOptions, FlowProducer, Queue } from "bullmq";
import {
  checkJobName,
  DEFAULT_QUEUE,
  MERGE_JOB,
  type MergeJobData,
  mergeJobId,
  planShards,
  SHARD_JOB,
  type ShardJobData,
  shardJobId,
} from "./jobs";

export interface SubmitOptions {
  connection: ConnectionOptions;
  queue?: string;
  /** The run id (see defaultJobName). */
  job: string;
  total: number;
  /** Number of shards K. */
  shards: number;
  /** Output root every worker can write to. */
  out: string;
  shardArgs: string[];
  mergeArgs: string[];
  /** Tries per job (default 3), with exponential backoff from `backoffMs` (default 2000). */
  attempts?: number;
  backoffMs?: number;
}

export interface SubmitResult {
  job: string;
  queue: string;
  shards: ShardJobData[];
  shardIds: string[];
  mergeId: string;
  /** True when the run was already in the queue (nothing was added). */
  existed: boolean;
}

function sameRun(a: MergeJobData, b: MergeJobData): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Adds the run: shard jobs `<job>.shard-<k>` (k = 0..K-1) under the parent `<job>.merge`, which BullMQ
 * moves to the wait list when every shard has completed. A shard failing for good (after `attempts`
 * tries) fails the merge job too. Submitting the same run again adds nothing; the same id with other
 * options is an error.
 */
export async function submitJob(o: SubmitOptions): Promise<SubmitResult> {
  const job = checkJobName(o.job);
  const queueName = o.queue ?? DEFAULT_QUEUE;
  const shards = planShards({ job, shards: o.shards, total: o.total, out: o.out, args: o.shardArgs });
  const merge: MergeJobData = { job, shards: o.shards, total: o.total, out: o.out, args: o.mergeArgs };
  const result = {
    job,
    queue: queueName,
    shards,
    shardIds: shards.map((s) => shardJobId(job, s.shard)),
    mergeId: mergeJobId(job),
  };
  const queue = new Queue(queueName, { connection: o.connection });
  try {
    const existing = await queue.getJob(result.mergeId);
    if (existing) {
      if (!sameRun(existing.data as MergeJobData, merge)) {
        throw new Error(
          `job '${job}' is already in queue '${queueName}' with other options: pick another --job name or remove it (queue status --job ${job})`,
        );
      }
      return { ...result, existed: true };
    }
  } finally {
    await queue.close();
  }
  const attempts = o.attempts ?? 3;
  const backoff = { type: "exponential" as const, delay: o.backoffMs ?? 2000 };
  const flow = new FlowProducer({ connection: o.connection });
  try {
    await flow.add({
      name: MERGE_JOB,
      queueName,
      data: merge,
      opts: { jobId: result.mergeId, attempts, backoff },
      children: shards.map((s, k) => ({
        name: SHARD_JOB,
        queueName,
        data: s,
        opts: { jobId: result.shardIds[k], attempts, backoff, failParentOnFailure: true },
      })),
    });
  } finally {
    await flow.close();
  }
  return { ...result, existed: false };
}
