// A worker process's side of a run: takes shard and merge jobs one at a time and hands them to injected
// runners (the CLI runs them in child processes so that this process's event loop stays free to renew
// the job locks while a shard samples).
import { type ConnectionOptions, type Job, UnrecoverableError, Worker } from "bullmq";
import {
  DEFAULT_QUEUE,
  MERGE_JOB,
  type MergeJobData,
  SHARD_JOB,
  type ShardJobData,
  type ShardProgress,
} from "./jobs";

export interface RunContext {
  job: Job;
  /** 1 for the first try (BullMQ's attemptsStarted: stalled restarts count too). */
  attempt: number;
  /** Aborted when the worker cancels the job (e.g. a forced shutdown). */
  signal: AbortSignal;
  progress(p: ShardProgress): Promise<void>;
}

export type ShardRunner = (data: ShardJobData, ctx: RunContext) => Promise<unknown>;
export type MergeRunner = (
  data: MergeJobData,
  ctx: RunContext & { children: Record<string, unknown> },
) => Promise<unknown>;

export type WorkerEvent =
  | { type: "started"; id: string; name: string; data: ShardJobData | MergeJobData; attempt: number }
  | { type: "progress"; id: string; progress: ShardProgress }
  | { type: "completed"; id: string; name: string; result: unknown; ms: number }
  | { type: "failed"; id: string; name: string; error: string; attempt: number; willRetry: boolean }
  | { type: "stalled"; id: string }
  | { type: "error"; error: string };

export interface WorkerOptions {
  connection: ConnectionOptions;
  queue?: string;
  runShard: ShardRunner;
  runMerge: MergeRunner;
  /** Jobs at once (default 1: one per device). */
  concurrency?: number;
  /** Lock time-to-live in ms (default 30000); renewed every lockDuration / 2 while a job runs. */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (locks that expired), ms (default 30000). */
  stalledInterval?: number;
  /** Times a job may stall (its worker died) and be put back before it fails (default 2). */
  maxStalledCount?: number;
  /** Stored on every job it processes (job.processedBy), e.g. host:pid. */
  name?: string;
  onEvent?: (e: WorkerEvent) => void;
}

/** Starts a BullMQ worker for shard and merge jobs. `close()` waits for the job in hand. */
export function startWorker(o: WorkerOptions): Worker {
  const emit = o.onEvent ?? (() => undefined);
  const started = new Map<string, number>();
  const worker = new Worker(
    o.queue ?? DEFAULT_QUEUE,
    async (job: Job, _token?: string, signal?: AbortSignal) => {
      const ctx: RunContext = {
        job,
        attempt: job.attemptsStarted,
        signal: signal ?? new AbortController().signal,
        progress: async (p) => {
          await job.updateProgress(p as unknown as object);
          emit({ type: "progress", id: job.id!, progress: p });
        },
      };
      started.set(job.id!, performance.now());
      emit({ type: "started", id: job.id!, name: job.name, data: job.data, attempt: ctx.attempt });
      if (job.name === SHARD_JOB) return o.runShard(job.data as ShardJobData, ctx);
      if (job.name === MERGE_JOB) {
        const children = await job.getChildrenValues();
        return o.runMerge(job.data as MergeJobData, { ...ctx, children });
      }
      throw new UnrecoverableError(`unknown job name '${job.name}' (expected ${SHARD_JOB} or ${MERGE_JOB})`);
    },
    {
      connection: o.connection,
      concurrency: o.concurrency ?? 1,
      lockDuration: o.lockDuration ?? 30_000,
      stalledInterval: o.stalledInterval ?? 30_000,
      maxStalledCount: o.maxStalledCount ?? 2,
      name: o.name,
    },
  );
  const elapsed = (id: string) => performance.now() - (started.get(id) ?? performance.now());
  worker.on("completed", (job, result) => {
    emit({ type: "completed", id: job.id!, name: job.name, result, ms: elapsed(job.id!) });
    started.delete(job.id!);
  });
  worker.on("failed", (job, err) => {
    if (!job) return emit({ type: "error", error: err.message });
    const attempts = job.opts.attempts ?? 1;
    emit({
      type: "failed",
      id: job.id!,
      name: job.name,
      error: err.message,
      attempt: job.attemptsMade,
      willRetry: !(err instanceof UnrecoverableError) && job.attemptsMade < attempts,
    });
    started.delete(job.id!);
  });
  worker.on("stalled", (id) => emit({ type: "stalled", id }));
  worker.on("error", (err) => emit({ type: "error", error: err.message }));
  return worker;
}
