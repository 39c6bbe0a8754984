// The sampling loop: noise -> solver/plan over the velocity models (per call, or block-compiled) ->
// optional decode. Every sample is a pure function of (seed, global sample index).
import type { Session } from "@flowturbo/core";
import {
  type GuidedChannels,
  type NfeCounts,
  NonFiniteError,
  type Plan,
  type SolverAbortSignal,
  sampleFlowTurbo,
  solveDopri5,
  solveFixedStep,
  solveSde,
} from "@flowturbo/solvers";
import { noiseForSample, randomNormal, Tensor } from "@flowturbo/tensor";
import { sampleBatchWithBlocks } from "./blocks/executor";
import { type BlockSessions, emptyTransferCounts, type TransferCounts } from "./blocks/io";
import { blockPlanOf, methodName, type SamplingMethod } from "./method";
import { type CompileLevel, firstNonFinite, isGuided, SIT_GUIDED_CHANNELS } from "./rules";
import { baseVelocity, doubledLabels, refinerVelocity } from "./velocity";

export interface SampleRequest {
  /** Per-call base model session (required unless compile is "block"). */
  base?: Session;
  refiner?: Session;
  /**
   * "none" / "model" (default): network calls through `base` / `refiner` (the level only says how the
   * caller loaded them: see compileSessionOptions). "block": the plan runs through `blocks`, one
   * compiled session per block kind, the state kept on the device; plans and Heun only.
   */
  compile?: CompileLevel;
  /** Block sessions for compile "block" (compileBlocks). */
  blocks?: BlockSessions;
  /** Latent (or pixel) shape of one sample, [C, H, W]. */
  shape: readonly number[];
  /** Class label of every sample (its length is the number of samples). */
  labels: readonly number[];
  /** Null class id for guidance (the model's num_classes). */
  nullClass: number;
  method: SamplingMethod;
  seed: number;
  /** Global index of the first sample (for sharding: sample i uses noise (seed, firstIndex + i)). */
  firstIndex?: number;
  /** Guidance scale; 1 = no guidance (and no doubled batch). */
  cfgScale?: number;
  /** Guided channels: default "sit" (channels 0..2, as SiT weights need); "all" is standard CFG. */
  guidanceChannels?: GuidedChannels;
  guidanceInterval?: readonly [number, number];
  /** Samples per model call batch (default: all). Results do not depend on it. */
  batchSize?: number;
  /** Start from this noise instead of the seeded one: n x C x H x W values. */
  noise?: Float32Array;
  /**
   * Split-invariant batching. ONNX Runtime's kernels can round differently for different batch shapes
   * (about 1e-5 here), and dopri5's steps depend on the whole batch; with this option every model call
   * has exactly `batchSize` samples and batch k holds the global samples [k*B, (k+1)*B): samples of this
   * request outside that slot range are computed too (seeded noise, labels from `labelOf`) and dropped.
   * A sample's result is then the same bits however a run is split into requests, shards or workers
   * (for a given batchSize). Not with `noise`.
   */
  alignBatches?: { labelOf: (globalIndex: number) => number };
  /** Turns final latents [b, C, H, W] into images (e.g. a VAE decode); omitted: no decode. */
  decode?: (latents: Tensor) => Promise<Tensor>;
  signal?: SolverAbortSignal;
  onProgress?: (p: SampleProgress) => void;
  /**
   * Hand the state to onProgress after every step (live previews) at every compile level. Per-call
   * levels have it on the host anyway; compile "block" downloads it once per block (counted in
   * `transfers.stepDownloads`), which also keeps a GPU from running more than a block ahead of the host.
   */
  stepStates?: boolean;
}

/**
 * Where a run is: "compile" (sessions opening for new settings: FlowTurboPipeline.generate), "sample"
 * (a solver step or block finished), "readback" (compile "block": the final state is being copied to the
 * host; on WebGPU this waits for the GPU to run the blocks submitted so far), "decode" (the VAE decodes
 * the batch), "done" (the batch is finished).
 */
export type ProgressPhase = "compile" | "sample" | "readback" | "decode" | "done";

export interface SampleProgress {
  /** Samples finished so far (before the current batch; after it in the "done" event) and in total. */
  done: number;
  total: number;
  /** Solver steps finished in the current batch (0 in the compile, decode and done events). */
  step: number;
  t: number;
  nfe: NfeCounts;
  /** "decoding" in the decode event, else "sampling" (kept for older callers: see `phase`). */
  stage: "sampling" | "decoding";
  /** The current batch's state (treat as read-only): for live previews. */
  x?: Float32Array;
  /** What is happening now. */
  phase: ProgressPhase;
  /** The current batch (0-based) and the number of batches. */
  batch: number;
  batches: number;
  /** Samples of the request in the current batch: samples done .. done + inBatch - 1. */
  inBatch: number;
  /** Steps per batch, when the method fixes them (every method but dopri5). */
  steps?: number;
  /**
   * The whole run's progress in [0, 1]: strictly increasing from one event to the next (0 at compile,
   * 1 at the last batch's done); steps, readback, decode and done each advance it.
   */
  fraction: number;
}

/** Steps per batch of a method, when it fixes them (dopri5 chooses its own). */
export function methodSteps(m: SamplingMethod): number | undefined {
  return m.kind === "plan" ? m.plan.steps : m.kind === "dopri5" ? undefined : m.steps;
}

/**
 * The run's progress fraction for an event of batch `batch` of `batches` (see SampleProgress.fraction):
 * within a batch, steps take the share steps/(steps + 1) (0.9 when the steps are not known: then by t),
 * and readback, decode and done split the rest.
 */
export function progressFraction(e: {
  phase: ProgressPhase;
  batch: number;
  batches: number;
  step: number;
  t: number;
  steps?: number;
}): number {
  if (e.phase === "compile") return 0;
  const share = e.steps ? e.steps / (e.steps + 1) : 0.9;
  const within =
    e.phase === "sample"
      ? share * (e.steps ? e.step / e.steps : Math.min(Math.max(e.t, 0), 1))
      : e.phase === "done"
        ? 1
        : share + (1 - share) * (e.phase === "readback" ? 0.25 : 0.5);
  return (e.batch + within) / e.batches;
}

export interface SampleResult {
  latents: Tensor;
  images?: Tensor;
  nfe: NfeCounts;
  /** Milliseconds spent in the solver (model calls included) and in decoding. */
  timings: { sampling: number; decoding: number };
  /** compile "block" only: state uploads/downloads and host copies, counted over all batches. */
  transfers?: TransferCounts;
}

/** Seeded starting noise of samples [first, first + count): row i depends only on (seed, first + i). */
export function initialNoise(
  seed: number,
  first: number,
  count: number,
  shape: readonly number[],
): Float32Array {
  const per = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count * per);
  for (let i = 0; i < count; i++) out.set(noiseForSample(seed, first + i, shape), i * per);
  return out;
}

/**
 * Samples that came out NaN or infinite (written as images they would be black): a model call returned
 * a non-finite value (the solvers' NonFiniteError, the `cause`), or the final state is not finite (block
 * sessions, whose state stays on the device). Usually non-finite weights, or guidance that overflows.
 */
export class NonFiniteSamplesError extends Error {
  constructor(
    /** Global indices of the batch, [first, end). */
    readonly first: number,
    readonly end: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `samples ${first}..${end - 1}: ${detail}; the model's weights may hold NaN or infinite values, or the guidance scale overflows them`,
      options,
    );
    this.name = "NonFiniteSamplesError";
  }
}

const NON_FINITE_SOURCES: Record<string, string> = {
  velocity: "the base model's velocity",
  refiner: "the refiner's output",
  noise: "the SDE noise",
  "model output": "a model output",
};

export async function sample(req: SampleRequest): Promise<SampleResult> {
  const n = req.labels.length;
  const per = req.shape.reduce((a, b) => a * b, 1);
  const blocks = req.compile === "block" ? blockRequest(req) : undefined;
  if (req.alignBatches && !req.batchSize) throw new Error("sample(): alignBatches needs batchSize");
  // aligned slots keep their size whatever n is; otherwise no batch is larger than the request
  const batch = req.alignBatches
    ? req.batchSize!
    : Math.max(1, Math.min(req.batchSize ?? blocks?.sessions.batch ?? n, n));
  if (blocks && batch > blocks.sessions.batch)
    throw new Error(`batchSize ${batch} exceeds the compiled block batch ${blocks.sessions.batch}`);
  const transfers = blocks ? emptyTransferCounts() : undefined;
  const cfg = req.cfgScale ?? 1;
  const channels = req.guidanceChannels ?? SIT_GUIDED_CHANNELS;
  const first = req.firstIndex ?? 0;
  if (req.noise && req.noise.length !== n * per) {
    throw new Error(
      `noise has ${req.noise.length} values, expected ${n} x [${req.shape.join(", ")}] = ${n * per}`,
    );
  }
  if (req.alignBatches && req.noise) throw new Error("sample(): alignBatches and noise are exclusive");
  const latents = new Float32Array(n * per);
  const images: Tensor[] = [];
  const nfe: NfeCounts = { base: 0, refiner: 0 };
  const timings = { sampling: 0, decoding: 0 };
  const batches = chunks(first, n, batch, req.alignBatches !== undefined);
  const steps = methodSteps(req.method);
  for (const [index, chunk] of batches.entries()) {
    // global samples [g, g + b) are computed; [g + keep[0], g + keep[1]) belong to this request
    const { g, b, keep } = chunk;
    const start = g + keep[0] - first; // index of the first kept sample in this request
    const kept = keep[1] - keep[0];
    const report = (
      phase: Exclude<ProgressPhase, "compile">,
      info: { step: number; t: number; nfe: NfeCounts; x?: Float32Array },
    ) => {
      if (!req.onProgress) return;
      const at = { phase, batch: index, batches: batches.length, step: info.step, t: info.t, steps };
      req.onProgress({
        done: phase === "done" ? start + kept : start,
        total: n,
        step: info.step,
        t: info.t,
        nfe: info.nfe,
        stage: phase === "decode" ? "decoding" : "sampling",
        ...(info.x ? { x: info.x } : {}),
        phase,
        batch: index,
        batches: batches.length,
        inBatch: kept,
        ...(steps === undefined ? {} : { steps }),
        fraction: progressFraction(at),
      });
    };
    const z = req.noise
      ? req.noise.slice(start * per, (start + b) * per)
      : initialNoise(req.seed, g, b, req.shape);
    const guided = isGuided(cfg);
    const rows = guided ? 2 * b : b;
    const stateShape = [rows, ...req.shape];
    const labels = Array.from({ length: b }, (_, r) => {
      const i = g + r - first;
      return i >= 0 && i < n ? req.labels[i] : req.alignBatches!.labelOf(g + r);
    });
    const modelLabels = guided ? doubledLabels(labels, req.nullClass) : labels;
    const x0 = guided ? doubled(z) : z;
    const common = {
      signal: req.signal,
      guidance: guided
        ? { scale: cfg, shape: stateShape, channels, interval: req.guidanceInterval }
        : undefined,
      onStep: (info: { step: number; t: number; x?: Float32Array; nfe: NfeCounts }) =>
        report("sample", { ...info, nfe: add(nfe, info.nfe) }),
    };
    const t0 = performance.now();
    const m = req.method;
    let result: { x: Float32Array; nfe: NfeCounts };
    try {
      const base = blocks
        ? undefined
        : baseVelocity(requireBase(req.base), { shape: stateShape, labels: modelLabels });
      if (blocks) {
        result = await sampleBatchWithBlocks(blocks.sessions, z, labels, {
          plan: blocks.plan,
          sampleShape: req.shape,
          nullClass: req.nullClass,
          cfgScale: cfg,
          guidanceChannels: channels,
          guidanceInterval: req.guidanceInterval,
          signal: req.signal,
          // x only when asked for: otherwise the state stays on the device between blocks
          stepStates: req.stepStates,
          onStep: common.onStep,
          beforeReadback: (info) => report("readback", { ...info, nfe: add(nfe, info.nfe) }),
          transfers,
        });
      } else if (!base) {
        throw new Error("unreachable: no base velocity");
      } else if (m.kind === "plan") {
        const refiner = req.refiner
          ? refinerVelocity(req.refiner, { shape: stateShape, labels: modelLabels })
          : undefined;
        result = await sampleFlowTurbo(base, x0, { ...common, plan: m.plan, refiner });
      } else if (m.kind === "dopri5") {
        // clipToEnd false: SiT's ODE sampler (torchdiffeq) lets the last step pass t = 1 and interpolates.
        result = await solveDopri5(base, x0, { ...common, atol: m.atol, rtol: m.rtol, clipToEnd: false });
      } else if (m.kind === "sde") {
        const noise = (step: number) => sdeNoise(req.seed, g, b, per, step, guided);
        result = await solveSde(base, x0, { ...common, noise, numSteps: m.steps });
      } else {
        result = await solveFixedStep(base, x0, { ...common, method: m.solver, steps: m.steps });
      }
    } catch (e) {
      if (!(e instanceof NonFiniteError)) throw e;
      const what = NON_FINITE_SOURCES[e.source] ?? e.source;
      throw new NonFiniteSamplesError(
        g,
        g + b,
        `${what} at t=${e.t} (step ${e.step}) is not finite (NaN or infinity)`,
        { cause: e },
      );
    }
    timings.sampling += performance.now() - t0;
    Object.assign(nfe, add(nfe, result.nfe));
    // first half of the doubled batch: the samples; then only the kept rows
    const out = result.x.subarray(keep[0] * per, keep[1] * per);
    const bad = firstNonFinite(out);
    if (bad >= 0)
      throw new NonFiniteSamplesError(
        g,
        g + b,
        `sample ${g + keep[0] + Math.floor(bad / per)} is not finite (NaN or infinity) after sampling`,
      );
    latents.set(out, start * per);
    if (req.decode) {
      report("decode", { step: 0, t: 1, nfe: { ...nfe } });
      const t1 = performance.now();
      images.push(await req.decode(new Tensor("float32", [kept, ...req.shape], out.slice())));
      timings.decoding += performance.now() - t1;
    }
    report("done", { step: 0, t: 1, nfe: { ...nfe } });
  }
  return {
    latents: new Tensor("float32", [n, ...req.shape], latents),
    images: images.length ? Tensor.concatRows(images) : undefined,
    nfe,
    timings,
    ...(transfers ? { transfers } : {}),
  };
}

/** How many batches sample() runs for samples [first, first + n) (see SampleRequest.alignBatches). */
export function batchCount(first: number, n: number, batch: number, align: boolean): number {
  if (!align) return Math.ceil(n / batch);
  return Math.floor((first + n - 1) / batch) - Math.floor(first / batch) + 1;
}

/**
 * The batches of samples [first, first + n): consecutive runs of `batch` (the last one shorter), or with
 * `align` the slots [k*batch, (k+1)*batch) that the range touches, each computed whole.
 */
function chunks(
  first: number,
  n: number,
  batch: number,
  align: boolean,
): { g: number; b: number; keep: [number, number] }[] {
  const out: { g: number; b: number; keep: [number, number] }[] = [];
  if (!align) {
    for (let s = 0; s < n; s += batch) {
      const b = Math.min(batch, n - s);
      out.push({ g: first + s, b, keep: [0, b] });
    }
    return out;
  }
  for (let k = Math.floor(first / batch); k * batch < first + n; k++) {
    const g = k * batch;
    out.push({ g, b: batch, keep: [Math.max(first, g) - g, Math.min(first + n, g + batch) - g] });
  }
  return out;
}

function requireBase(base: Session | undefined): Session {
  if (!base) throw new Error('sample(): `base` (a model session) is required unless compile is "block"');
  return base;
}

/** Checks a compile "block" request: block sessions given, a method that has a block plan (Heun N = HN). */
function blockRequest(req: SampleRequest): { sessions: BlockSessions; plan: Plan } {
  if (!req.blocks) throw new Error('sample(): compile "block" needs `blocks` (compiled block sessions)');
  const plan = blockPlanOf(req.method);
  if (!plan)
    throw new Error(
      `sample(): compile "block" runs FlowTurbo plans and Heun, not '${methodName(req.method)}' (use compile "model")`,
    );
  return { sessions: req.blocks, plan };
}

function doubled(z: Float32Array): Float32Array {
  const out = new Float32Array(2 * z.length);
  out.set(z, 0);
  out.set(z, z.length);
  return out;
}

function add(a: NfeCounts, b: NfeCounts): NfeCounts {
  return { base: a.base + b.base, refiner: a.refiner + b.refiner };
}

/** SDE noise of step `step` for samples [first, first + b): stream "sde", one draw per (sample, step). */
function sdeNoise(
  seed: number,
  first: number,
  b: number,
  per: number,
  step: number,
  guided: boolean,
): Float32Array {
  const out = new Float32Array((guided ? 2 : 1) * b * per);
  for (let i = 0; i < b; i++) out.set(randomNormal(seed, `sde/${step}`, (first + i) * per, per), i * per);
  if (guided) out.copyWithin(b * per, 0, b * per); // the second half mirrors the first (it is recomputed anyway)
  return out;
}
