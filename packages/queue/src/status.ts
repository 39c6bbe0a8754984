// What a run looks like in the queue: every shard's state, progress and tries, and the merge result.
import { type ConnectionOptions, type Job, Queue } from "bullmq";
import { DEFAULT_QUEUE, type MergeJobData, mergeJobId, type ShardJobData, shardJobId } from "./jobs";
import type { SampleRange } from "./shard";

export interface JobTimes {
  /** When the job was added (ms since the epoch). */
  timestamp: number;
  /** When a worker last started it. */
  processedOn?: number;
  finishedOn?: number;
}

export interface ShardStatus extends JobTimes {
  shard: number;
  id: string;
  range: SampleRange;
  state: string;
  progress: unknown;
  /** Tries started (stalled restarts included) and tries finished (BullMQ counts the successful one too). */
  attemptsStarted: number;
  attemptsMade: number;
  stalledCounter: number;
  processedBy?: string;
  failedReason?: string;
  result?: unknown;
}

export interface RunStatus {
  job: string;
  queue: string;
  total: number;
  out: string;
  shards: ShardStatus[];
  merge: JobTimes & {
    id: string;
    state: string;
    processedBy?: string;
    failedReason?: string;
    result?: unknown;
  };
  /** Shards per state. */
  counts: Record<string, number>;
  done: boolean;
  failed: boolean;
}

function times(j: Job): JobTimes {
  return { timestamp: j.timestamp, processedOn: j.processedOn, finishedOn: j.finishedOn };
}

/** The state of run `job`, or undefined when the queue does not hold it. */
export async function runStatus(o: {
  connection: ConnectionOptions;
  queue?: string;
  job: string;
}): Promise<RunStatus | undefined> {
  const queueName = o.queue ?? DEFAULT_QUEUE;
  const queue = new Queue(queueName, { connection: o.connection });
  try {
    // state first, then the job: a job that completes in between is then read with its result
    const mergeState = await queue.getJobState(mergeJobId(o.job));
    const merge = await queue.getJob(mergeJobId(o.job));
    if (!merge) return undefined;
    const data = merge.data as MergeJobData;
    const shards: ShardStatus[] = [];
    for (let k = 0; k < data.shards; k++) {
      const id = shardJobId(o.job, k);
      const state = await queue.getJobState(id);
      const j = await queue.getJob(id);
      if (!j) {
        shards.push({
          shard: k,
          id,
          range: { start: 0, end: 0 },
          state: "missing",
          progress: null,
          attemptsStarted: 0,
          attemptsMade: 0,
          stalledCounter: 0,
          timestamp: 0,
        });
        continue;
      }
      const d = j.data as ShardJobData;
      shards.push({
        shard: k,
        id,
        range: d.range,
        state,
        progress: j.progress,
        attemptsStarted: j.attemptsStarted,
        attemptsMade: j.attemptsMade,
        stalledCounter: j.stalledCounter,
        processedBy: j.processedBy,
        failedReason: j.failedReason || undefined,
        result: j.returnvalue ?? undefined,
        ...times(j),
      });
    }
    const counts: Record<string, number> = {};
    for (const s of shards) counts[s.state] = (counts[s.state] ?? 0) + 1;
    return {
      job: o.job,
      queue: queueName,
      total: data.total,
      out: data.out,
      shards,
      merge: {
        id: merge.id!,
        state: mergeState,
        processedBy: merge.processedBy,
        failedReason: merge.failedReason || undefined,
        result: merge.returnvalue ?? undefined,
        ...times(merge),
      },
      counts,
      done: mergeState === "completed",
      failed: mergeState === "failed",
    };
  } finally {
    await queue.close();
  }
}

/** Job counts per state of the whole queue, and the runs (merge jobs) it holds. */
export async function queueOverview(o: { connection: ConnectionOptions; queue?: string }): Promise<{
  queue: string;
  counts: Record<string, number>;
  runs: { job: string; state: string; total: number; shards: number }[];
}> {
  const queueName = o.queue ?? DEFAULT_QUEUE;
  const queue = new Queue(queueName, { connection: o.connection });
  try {
    const counts = await queue.getJobCounts();
    const jobs = await queue.getJobs([
      "waiting-children",
      "wait",
      "active",
      "completed",
      "failed",
      "delayed",
    ]);
    const runs = [];
    for (const j of jobs.filter((j) => j?.name === "merge")) {
      const d = j.data as MergeJobData;
      runs.push({ job: d.job, state: await j.getState(), total: d.total, shards: d.shards });
    }
    return { queue: queueName, counts, runs };
  } finally {
    await queue.close();
  }
}

/**
 * Polls the run until its merge job completes (resolves with the status) or fails (rejects), calling
 * `onStatus` on every poll. Rejects after `timeoutMs` (default: never).
 */
export async function waitForRun(o: {
  connection: ConnectionOptions;
  queue?: string;
  job: string;
  pollMs?: number;
  timeoutMs?: number;
  onStatus?: (s: RunStatus) => void;
}): Promise<RunStatus> {
  const t0 = Date.now();
  for (;;) {
    const s = await runStatus(o);
    if (!s) throw new Error(`job '${o.job}' is not in queue '${o.queue ?? DEFAULT_QUEUE}'`);
    o.onStatus?.(s);
    if (s.done) return s;
    if (s.failed) throw new Error(`job '${o.job}' failed: ${s.merge.failedReason ?? "a shard failed"}`);
    if (o.timeoutMs !== undefined && Date.now() - t0 > o.timeoutMs)
      throw new Error(`job '${o.job}' not done after ${o.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}
