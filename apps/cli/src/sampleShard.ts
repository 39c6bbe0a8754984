// `flowturbo sample --shard k/K --total N -o DIR` (or `--range a:b`): one slice of a run's global sample
// indices, sampled chunk by chunk into an atomic shard folder (see shards.ts), with the Inception feature
// moments when --inception is given. Spawned by `flowturbo queue worker` with an IPC channel, it reports
// progress over it and exits if the worker goes away.
import type { Backend } from "@flowturbo/core";
import { InceptionExtractor } from "@flowturbo/metrics";
import { loadInceptionStateDict } from "@flowturbo/metrics/node";
import { parseRange, type SampleRange, shardRange } from "@flowturbo/queue";
import type { Tensor } from "@flowturbo/tensor";
import { type CommandContext, UsageError } from "./cli";
import { requireFile } from "./files";
import { parseIntFlag } from "./flags";
import { ProgressBar } from "./progress";
import { type FidInput, ShardWriter } from "./shards";

/** Samples per model call in shard mode when --batch is not given. */
export const DEFAULT_SHARD_BATCH = 16;

/**
 * The chunks of global samples [first, end) a run computes one after the other: each ends at a multiple
 * of `batch`, so that it is (part of) one batch slot of the whole run and its bits do not depend on how
 * the run is split.
 */
export function* batchChunks(first: number, end: number, batch: number): Generator<[number, number]> {
  for (let g = first; g < end; ) {
    const next = Math.min(end, (Math.floor(g / batch) + 1) * batch);
    yield [g, next];
    g = next;
  }
}

export interface ShardSpec {
  range: SampleRange;
  total: number;
  /** "k/K" when given as --shard. */
  shard?: string;
  out: string;
  format: "png" | "npz";
  inception?: string;
  fidInput: FidInput;
}

/** --shard k/K | --range a:b with --total N and -o DIR; undefined when neither is given. */
export function parseShardFlags(v: CommandContext["values"]): ShardSpec | undefined {
  const shard = v.shard as string | undefined;
  const range = v.range as string | undefined;
  const sharded = shard !== undefined || range !== undefined;
  for (const flag of ["total", "format", "inception", "fid-input"]) {
    if (!sharded && v[flag] !== undefined)
      throw new UsageError(`--${flag} belongs to sharded runs: add --shard k/K or --range a:b`);
  }
  if (!sharded) return undefined;
  if (shard !== undefined && range !== undefined) throw new UsageError("--shard and --range are exclusive");
  if (v.n !== undefined)
    throw new UsageError(
      "--n with --shard/--range: give the run's size as --total N (the shard's size follows)",
    );
  for (const flag of ["noise", "latents-out", "no-decode"]) {
    if (v[flag] !== undefined) throw new UsageError(`--${flag} is not supported with --shard/--range`);
  }
  const total = parseIntFlag(v.total, "--total", 0);
  if (shard !== undefined && total === undefined)
    throw new UsageError("--shard k/K needs --total N: the number of samples of the whole run");
  const out = v.out as string | undefined;
  if (!out || /\.(png|npz)$/i.test(out))
    throw new UsageError(
      "--shard/--range write a shard folder under the run's output folder: pass -o DIR (not a .png or .npz file)",
    );
  const format = (v.format as string | undefined) ?? "png";
  if (format !== "png" && format !== "npz")
    throw new UsageError(`--format must be png or npz, got '${format}'`);
  const fidInput = (v["fid-input"] as string | undefined) ?? "uint8";
  if (fidInput !== "uint8" && fidInput !== "float")
    throw new UsageError(`--fid-input must be uint8 or float, got '${fidInput}'`);
  if (v["fid-input"] !== undefined && !v.inception)
    throw new UsageError("--fid-input needs --inception FILE");
  let r: SampleRange;
  try {
    r = shard !== undefined ? shardRange(shard, total!) : parseRange(range!, total);
  } catch (e) {
    throw new UsageError(`--${shard !== undefined ? "shard" : "range"} ${(e as Error).message}`);
  }
  if (r.end === r.start) throw new UsageError(`--shard ${shard}: empty shard (${total} samples)`);
  return {
    range: r,
    total: total ?? r.end,
    shard,
    out,
    format,
    inception: v.inception as string | undefined,
    fidInput,
  };
}

/** The fields every shard summary starts with. */
export function shardSummaryBase(spec: ShardSpec) {
  return {
    shard: spec.shard ?? null,
    range: spec.range,
    total: spec.total,
    samples: spec.range.end - spec.range.start,
  };
}

export interface ShardRunInput {
  spec: ShardSpec;
  /** What defines the samples (recorded in every shard's manifest and checked when merging). */
  run: Record<string, unknown>;
  /** Labels of the shard's samples, in global order. */
  labels: readonly number[];
  /** Samples per call. */
  batch: number;
  /** The backend the models run on (the Inception network runs on it too). */
  backend: Backend;
  /** Seconds spent opening the models. */
  loadSeconds: number;
  /** Samples `labels.length` images starting at global index `first` (float NCHW in [-1, 1]). */
  sampleChunk(first: number, labels: readonly number[]): Promise<Tensor>;
}

/** Runs one shard; returns the summary printed by `sample` (and read back by the queue worker). */
export async function runShard(ctx: CommandContext, o: ShardRunInput): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const { range } = o.spec;
  const size = range.end - range.start;
  // under `queue worker` (an IPC channel): progress to the worker; exit when it goes away
  const ipc = typeof process.send === "function";
  if (ipc) {
    process.channel?.unref();
    process.once("disconnect", () => process.exit(1));
  }
  const report = (done: number) => {
    if (ipc) process.send!({ type: "progress", done, total: size });
  };
  const base = shardSummaryBase(o.spec);
  let extractor: InceptionExtractor | undefined;
  let writer: ShardWriter | undefined;
  try {
    const tl = performance.now();
    if (o.spec.inception) {
      extractor = new InceptionExtractor(
        o.backend,
        await loadInceptionStateDict(await requireFile(o.spec.inception, "--inception")),
        { batchSize: o.batch },
      );
    }
    writer = await ShardWriter.open({
      root: o.spec.out,
      range,
      total: o.spec.total,
      run: o.run,
      format: o.spec.format,
      extractor,
      fidInput: o.spec.fidInput,
    });
    const loadSeconds = o.loadSeconds + (performance.now() - tl) / 1000;
    const bar = new ProgressBar(ctx.stderr, `shard ${range.start}:${range.end}`);
    // chunks end at multiples of the batch: each is (part of) one batch slot of the whole run
    for (const [g, next] of batchChunks(range.start, range.end, o.batch)) {
      const labels = o.labels.slice(g - range.start, next - range.start);
      const ts = performance.now();
      const images = await o.sampleChunk(g, labels);
      writer.seconds.sampling += (performance.now() - ts) / 1000;
      await writer.add(images, labels);
      bar.update({ done: writer.count, total: size });
      report(writer.count);
    }
    bar.finish();
    const c = await writer.commit();
    writer = undefined;
    return {
      ...base,
      dir: c.dir,
      alreadyComplete: false,
      duplicate: c.duplicate,
      convention: c.manifest.convention,
      seconds: {
        load: loadSeconds,
        ...c.manifest.seconds,
        total: (performance.now() - t0) / 1000 + o.loadSeconds,
      },
    };
  } finally {
    await writer?.abort();
    await extractor?.release();
  }
}
