// `flowturbo queue submit|worker|status`: a sharded sampling run on BullMQ/Redis. Every shard job runs
// `flowturbo sample --shard k/K --total N -o RUN_DIR ...` in a child process (the worker's event loop
// stays free to renew the job lock), the merge job runs `flowturbo eval merge RUN_DIR ...`.
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { resolve } from "node:path";
import {
  DEFAULT_QUEUE,
  defaultJobName,
  type MergeJobData,
  queueOverview,
  type RunStatus,
  redisConnection,
  runStatus,
  type ShardJobData,
  type ShardProgress,
  shardCount,
  startWorker,
  submitJob,
  UnrecoverableError,
  waitForRun,
  type WorkerEvent,
} from "@flowturbo/queue";
import { type Command, type CommandContext, EXIT, type Options, UsageError } from "../cli";
import { parseIntFlag } from "../flags";
import { SAMPLING_OPTIONS } from "./sample";

// SAMPLING_OPTIONS (from `sample`) go to every shard, MERGE_FLAGS to the merge; paths are made absolute.
/** `flowturbo eval merge` flags of the merge job. */
const MERGE_FLAGS: Options = {
  ref: { type: "string", value: "REF", help: "submit: the merge's FID reference (needs --inception)" },
  npz: {
    type: "string",
    value: "FILE.npz",
    help: "submit: assemble the run's images into one ADM sample npz",
  },
  stats: {
    type: "string",
    value: "FILE.npz",
    help: "submit: write the run's statistics (needs --inception)",
  },
};
const PATH_FLAGS = new Set(["base", "refiner", "vae", "vae-config", "inception", "ref", "npz", "stats"]);

function passThrough(values: CommandContext["values"], flags: Options, rename: Record<string, string> = {}) {
  const args: string[] = [];
  for (const name of Object.keys(flags)) {
    const value = values[name];
    if (value === undefined) continue;
    args.push(`--${rename[name] ?? name}`, PATH_FLAGS.has(name) ? resolve(String(value)) : String(value));
  }
  return args;
}

function connectionOf(values: CommandContext["values"]) {
  const url = (values.redis as string | undefined) ?? process.env.FLOWTURBO_REDIS;
  if (!url)
    throw new UsageError("--redis URL is required (or FLOWTURBO_REDIS), e.g. --redis redis://127.0.0.1:6379");
  try {
    return redisConnection(url);
  } catch (e) {
    throw new UsageError(`--redis: ${(e as Error).message}`);
  }
}

/**
 * Runs `flowturbo ARGS --json` in a child process with an IPC channel: progress messages go to
 * `onProgress`, the last stdout line is the result. Exit code 2 (a usage error) is not worth a retry.
 */
export function runCliChild(
  args: readonly string[],
  opts: {
    onProgress?: (p: ShardProgress) => void;
    signal?: AbortSignal;
    onStderr?: (text: string) => void;
  } = {},
): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args, "--json"], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
      opts.onStderr?.(d.toString());
    });
    child.on("message", (m: { type?: string } & ShardProgress) => {
      if (m?.type === "progress") opts.onProgress?.({ done: m.done, total: m.total });
    });
    const abort = () => child.kill("SIGTERM");
    opts.signal?.addEventListener("abort", abort, { once: true });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      opts.signal?.removeEventListener("abort", abort);
      if (code === 0) {
        const last = out.trim().split("\n").pop() ?? "";
        try {
          return resolvePromise(JSON.parse(last));
        } catch {
          return reject(new Error(`flowturbo ${args[0]}: no JSON result on stdout (${last.slice(0, 200)})`));
        }
      }
      const why = `flowturbo ${args.slice(0, 2).join(" ")} ${signal ? `was killed (${signal})` : `exited with code ${code}`}: ${err.trim().split("\n").slice(-3).join(" | ")}`;
      reject(code === EXIT.usage ? new UnrecoverableError(why) : new Error(why));
    });
  });
}

function shardArgs(d: ShardJobData): string[] {
  return ["sample", "--shard", `${d.shard}/${d.shards}`, "--total", String(d.total), "-o", d.out, ...d.args];
}

function mergeArgs(d: MergeJobData): string[] {
  return ["eval", "merge", d.out, "--total", String(d.total), ...d.args];
}

const QUEUE_OPTIONS: Options = {
  redis: { type: "string", value: "URL", help: "the Redis server", default: "$FLOWTURBO_REDIS" },
  queue: { type: "string", value: "NAME", help: "the BullMQ queue", default: DEFAULT_QUEUE },
  job: {
    type: "string",
    value: "ID",
    help: "submit: the run's job id (resubmitting it is a no-op); status: the run to show",
    default: "a hash of the run's options",
  },
};

async function submit(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const connection = connectionOf(v);
  const total = parseIntFlag(v.total, "--total");
  if (total === undefined)
    throw new UsageError("queue submit needs --total N: the number of samples of the run");
  const out = v.out as string | undefined;
  if (!out)
    throw new UsageError(
      "queue submit needs -o RUN_DIR: a folder every worker can write to (shared storage)",
    );
  if (v.shards !== undefined && v["shard-size"] !== undefined)
    throw new UsageError("--shards and --shard-size are exclusive");
  const size = parseIntFlag(v["shard-size"], "--shard-size");
  const shards = parseIntFlag(v.shards, "--shards") ?? shardCount(total, size ?? 1000);
  if (shards > total) throw new UsageError(`--shards ${shards} is more than the ${total} samples`);
  const sArgs = passThrough(v, SAMPLING_OPTIONS);
  const mArgs = passThrough(v, MERGE_FLAGS, { stats: "out" });
  if (v.inception) mArgs.push("--inception", resolve(String(v.inception)));
  if ((v.ref || v.stats) && !v.inception)
    throw new UsageError(
      "--ref/--stats need feature moments: pass --inception FILE so that every shard computes them",
    );
  const runDir = resolve(out);
  const job = (v.job as string | undefined) ?? defaultJobName({ total, shards, out: runDir, sArgs, mArgs });
  let r: Awaited<ReturnType<typeof submitJob>>;
  try {
    r = await submitJob({
      connection,
      queue: v.queue as string | undefined,
      job,
      total,
      shards,
      out: runDir,
      shardArgs: sArgs,
      mergeArgs: mArgs,
      attempts: parseIntFlag(v.attempts, "--attempts"),
      backoffMs: parseIntFlag(v["backoff-ms"], "--backoff-ms", 0),
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const info = {
    job: r.job,
    queue: r.queue,
    total,
    shards,
    out: runDir,
    existed: r.existed,
    merge: r.mergeId,
  };
  if (!v.wait) {
    ctx.stdout.write(
      ctx.json
        ? `${JSON.stringify(info)}\n`
        : `${r.existed ? "already queued" : "queued"}: job ${r.job} (${shards} shards of ${total} samples -> ${runDir}) on queue ${r.queue}\n`,
    );
    return EXIT.ok;
  }
  const timeout = parseIntFlag(v.timeout, "--timeout");
  let last = "";
  const status = await waitForRun({
    connection,
    queue: r.queue,
    job: r.job,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    onStatus: (s) => {
      const line = statusLine(s);
      if (line !== last && !ctx.json) ctx.stderr.write(`${line}\n`);
      last = line;
    },
  }).catch((e: Error) => {
    throw new Error(e.message);
  });
  ctx.stdout.write(
    ctx.json
      ? `${JSON.stringify({ ...info, result: status.merge.result })}\n`
      : `${formatMergeResult(status)}\n`,
  );
  return EXIT.ok;
}

function statusLine(s: RunStatus): string {
  const counts = Object.entries(s.counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  return `job ${s.job}: shards ${counts}; merge ${s.merge.state}`;
}

function formatMergeResult(s: RunStatus): string {
  const r = s.merge.result as { fid?: number | null; sfid?: number | null; npz?: string | null } | undefined;
  const parts = [`job ${s.job} done: ${s.total} samples in ${s.shards.length} shards -> ${s.out}`];
  if (r?.fid != null)
    parts.push(`FID ${r.fid.toFixed(4)}${r.sfid != null ? `, sFID ${r.sfid.toFixed(4)}` : ""}`);
  if (r?.npz) parts.push(`wrote ${r.npz}`);
  return parts.join("\n");
}

async function worker(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const connection = connectionOf(v);
  const name = (v.name as string | undefined) ?? `${hostname()}:${process.pid}`;
  const log = (text: string) => ctx.stdout.write(`[${name}] ${text}\n`);
  const describe = (e: Extract<WorkerEvent, { type: "started" }>) => {
    const d = e.data as Partial<ShardJobData>;
    return d.range
      ? `shard ${d.shard}/${d.shards} (samples ${d.range.start}:${d.range.end})`
      : `merge of ${e.data.shards} shards`;
  };
  const w = startWorker({
    connection,
    queue: v.queue as string | undefined,
    concurrency: parseIntFlag(v.concurrency, "--concurrency") ?? 1,
    lockDuration: parseIntFlag(v["lock-duration"], "--lock-duration"),
    stalledInterval: parseIntFlag(v["stalled-interval"], "--stalled-interval"),
    maxStalledCount: parseIntFlag(v["max-stalled"], "--max-stalled", 0),
    name,
    runShard: (d, c) =>
      runCliChild(shardArgs(d), {
        signal: c.signal,
        onProgress: (p) => void c.progress(p).catch(() => undefined),
      }).then((r) => ({ ...(r as object), worker: name, attempt: c.attempt })),
    runMerge: (d, c) =>
      runCliChild(mergeArgs(d), { signal: c.signal }).then((r) => ({ ...(r as object), worker: name })),
    onEvent: (e) => {
      if (ctx.json) return void ctx.stdout.write(`${JSON.stringify({ worker: name, ...e })}\n`);
      if (e.type === "started") log(`started ${e.id}: ${describe(e)}, attempt ${e.attempt}`);
      else if (e.type === "progress") log(`progress ${e.id}: ${e.progress.done}/${e.progress.total}`);
      else if (e.type === "completed") log(`completed ${e.id} in ${(e.ms / 1000).toFixed(1)} s`);
      else if (e.type === "failed")
        log(`failed ${e.id} (attempt ${e.attempt}${e.willRetry ? ", will retry" : ""}): ${e.error}`);
      else if (e.type === "stalled")
        log(`stalled ${e.id}: its worker stopped renewing the lock; put back in the queue`);
      else log(`error: ${e.error}`);
    },
  });
  await w.waitUntilReady();
  log(`waiting for jobs on queue ${(v.queue as string | undefined) ?? DEFAULT_QUEUE}`);
  // first SIGINT/SIGTERM: finish the job in hand, then exit; second: cancel it (it will be retried)
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = () => {
      if (stopping) {
        log("cancelling the job in hand");
        w.cancelAllJobs("worker shut down");
        return;
      }
      stopping = true;
      log("shutting down after the job in hand (signal again to cancel it)");
      w.close().then(done, done);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return EXIT.ok;
}

async function status(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const connection = connectionOf(v);
  const queue = v.queue as string | undefined;
  const job = v.job as string | undefined;
  if (!job) {
    const o = await queueOverview({ connection, queue });
    if (ctx.json) ctx.stdout.write(`${JSON.stringify(o)}\n`);
    else {
      const counts = Object.entries(o.counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`);
      const lines = [
        `queue ${o.queue}: ${counts.join(", ") || "empty"}`,
        ...o.runs.map((r) => `  job ${r.job}: ${r.total} samples, ${r.shards} shards, ${r.state}`),
      ];
      ctx.stdout.write(`${lines.join("\n")}\n`);
    }
    return EXIT.ok;
  }
  const s = await runStatus({ connection, queue, job });
  if (!s) throw new UsageError(`--job ${job}: no such job in queue ${queue ?? DEFAULT_QUEUE}`);
  if (ctx.json) {
    ctx.stdout.write(`${JSON.stringify(s)}\n`);
    return EXIT.ok;
  }
  const lines = [statusLine(s)];
  for (const sh of s.shards) {
    const p = sh.progress as ShardProgress | null;
    const progress = p && typeof p === "object" && "done" in p ? ` ${p.done}/${p.total}` : "";
    lines.push(
      `  shard ${sh.shard} [${sh.range.start}:${sh.range.end}) ${sh.state}${progress}, tries ${sh.attemptsStarted}${sh.processedBy ? `, ${sh.processedBy}` : ""}${sh.failedReason ? `: ${sh.failedReason}` : ""}`,
    );
  }
  if (s.done) lines.push(formatMergeResult(s));
  else if (s.merge.failedReason) lines.push(`merge: ${s.merge.failedReason}`);
  ctx.stdout.write(`${lines.join("\n")}\n`);
  return EXIT.ok;
}

export const queueCommand: Command = {
  name: "queue",
  summary: "sharded sampling + evaluation on BullMQ/Redis: submit a run, run workers, watch status",
  usage:
    "flowturbo queue submit --redis URL --total N (--shards K | --shard-size S) -o RUN_DIR [sample flags] [--inception FILE --ref REF] [--npz OUT.npz] [--wait]  |  flowturbo queue worker --redis URL  |  flowturbo queue status --redis URL [--job ID]",
  examples: [
    "flowturbo queue submit --redis redis://10.0.0.5:6379 --total 50000 --shard-size 1000 -o /shared/run1 --base sit-xl-2.onnx --refiner refiner.onnx --vae sd-vae-ft-ema/ --plan fast --cfg 1.5 --batch 25 --inception pt_inception-2015-12-05-6726825d.pth --ref VIRTUAL_imagenet256_labeled.npz --npz /shared/run1.npz",
    "flowturbo queue worker --redis redis://10.0.0.5:6379              # one per GPU; runs shards until stopped (SIGTERM: finish the shard in hand)",
    "flowturbo queue status --redis redis://10.0.0.5:6379 --job ft-1a2b3c4d5e6f",
    "flowturbo queue submit --redis redis://127.0.0.1:6379 --total 64 --shards 4 -o run/ --inception inception.safetensors --ref ref-stats.npz --wait",
  ],
  positionals: 1,
  options: {
    ...QUEUE_OPTIONS,
    total: { type: "string", value: "N", help: "submit: samples in the run (required)" },
    shards: { type: "string", value: "K", help: "submit: split the run into K shards" },
    "shard-size": { type: "string", value: "S", help: "submit: samples per shard", default: "1000" },
    out: {
      type: "string",
      short: "o",
      value: "RUN_DIR",
      help: "submit: the run's folder, at the same path on every worker (required)",
    },
    ...SAMPLING_OPTIONS,
    ...MERGE_FLAGS,
    attempts: { type: "string", value: "N", help: "submit: tries per shard", default: "3" },
    "backoff-ms": {
      type: "string",
      value: "MS",
      help: "submit: first retry delay (doubles per try)",
      default: "2000",
    },
    wait: { type: "boolean", help: "submit: follow the run and print the merge result" },
    timeout: { type: "string", value: "S", help: "submit --wait: give up after S seconds", default: "none" },
    concurrency: { type: "string", value: "N", help: "worker: jobs at once", default: "1" },
    "lock-duration": {
      type: "string",
      value: "MS",
      help: "worker: a job's lock; a worker silent this long loses its job",
      default: "30000",
    },
    "stalled-interval": {
      type: "string",
      value: "MS",
      help: "worker: how often stalled jobs are looked for",
      default: "30000",
    },
    "max-stalled": {
      type: "string",
      value: "N",
      help: "worker: stalls before a job fails",
      default: "2",
    },
    name: { type: "string", value: "NAME", help: "worker: its name in the status", default: "host:pid" },
  },
  async run(ctx) {
    const [sub] = ctx.positionals;
    if (sub === "submit") return submit(ctx);
    if (sub === "worker") return worker(ctx);
    if (sub === "status") return status(ctx);
    throw new UsageError(
      `unknown queue subcommand '${sub ?? ""}': use 'queue submit', 'queue worker' or 'queue status'`,
    );
  },
};
