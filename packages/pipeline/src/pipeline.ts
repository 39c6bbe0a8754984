// FlowTurboPipeline: the one object the CLI and the web app sample through. Models in (base, optional
// refiner, optional VAE), a checked request (method, guidance, labels, seed, batch, compile level) in,
// samples and per-stage timings out. Sessions are opened for a request's compile settings and reused
// while they stay the same.
import type { Backend, ExecutionProvider, ModelSource, Session, SessionOptions } from "@flowturbo/core";
import {
  type ModelCheckpoint,
  type SamplingDefaults,
  type SiTConfig,
  samplingDefaultsOf,
} from "@flowturbo/sit";
import type { GuidedChannels, NfeCounts, Plan } from "@flowturbo/solvers";
import type { GraphForm, Tensor } from "@flowturbo/tensor";
import type { VaeDecoder } from "@flowturbo/vae";
import { blockKindsFor, type TransferCounts } from "./blocks/io";
import { blockPlanOf, type SamplingMethod } from "./method";
import { checkpointClassNames, missingVaeMessage, ModelKindError, needsVae } from "./models";
import {
  type CompileLevel,
  checkNoise,
  checkRequest,
  defaultCompileLevel,
  isGuided,
  type Problem,
  type RequestLimits,
  type RuleInput,
} from "./rules";
import { batchCount, methodSteps, type SampleProgress, sample } from "./sample";
import { openSamplingModels, type SamplingModels } from "./sessions";

export interface PipelineModels {
  base: ModelCheckpoint;
  refiner?: ModelCheckpoint;
  /** The decoder of a latent model (required when the base model's outputs are not 3-channel images). */
  vae?: VaeDecoder;
  /** .onnx checkpoints loaded as they are (a path in Node, a URL or the bytes in browsers) at per-call levels. */
  onnxSources?: { base?: ModelSource; refiner?: ModelSource };
}

export interface PipelineOptions {
  /** Execution providers in order of preference (default: the backend's). */
  providers?: readonly ExecutionProvider[];
  /** Sets of sessions (one per compile setting) kept open at once; the least recently used goes first. Default 1. */
  keepSessions?: number;
  /** Graph form of the networks (default: graphFormFor(backend, providers): "fused" on ONNX Runtime, plain on WebGPU). */
  form?: GraphForm;
  /** How block sessions hold the weights (default "shared": one copy; "initializers": one per block graph, prepacked). */
  weightMode?: "shared" | "initializers";
  /** ORT graph optimization of compiled sessions (levels model and block; default "all"; see OpenSamplingOptions). */
  optimization?: SessionOptions["optimization"];
  /** Level block: no H graph, H blocks run as two P runs (one session fewer to compile; see OpenSamplingOptions). */
  heunAsP?: boolean;
}

export interface GenerateParams {
  method: SamplingMethod;
  /** Class of each sample (its length is the number of samples). */
  labels: readonly number[];
  /** Guidance scale; 1 (default) = none. */
  cfg?: number;
  seed?: number;
  /** Samples per model call and per compiled block batch (default: all, at most DEFAULT_BATCH). */
  batch?: number;
  /** Default: "block" for plans and Heun, "model" for the other solvers (defaultCompileLevel). */
  compile?: CompileLevel;
  /** Global index of the first sample: sample i uses noise (seed, firstIndex + i). */
  firstIndex?: number;
  /**
   * Batches are the slots [k*batch, (k+1)*batch) of global indices, each computed whole (other samples of
   * a slot get `labelOf`'s label): a sample is then the same bits however a run is split. Not with `noise`.
   */
  alignBatches?: { labelOf: (globalIndex: number) => number };
  /** Start from this noise (n x C x H x W) instead of the seeded one. */
  noise?: Float32Array;
  /** Default "sit" (channels 0..2, as SiT weights need). */
  guidanceChannels?: GuidedChannels;
  guidanceInterval?: readonly [number, number];
  /** Decode latents with the VAE (default true; pixel models need none). */
  decode?: boolean;
}

/** Samples per batch when a request does not say: bounded so that large runs stream in batches. */
export const DEFAULT_BATCH = 16;

export interface GenerateHooks {
  /** Aborts the run: between network calls (blocks) and between the sessions being opened. */
  signal?: AbortSignal;
  /** Phases, steps and batches as they happen (a "compile" event first when sessions are opened). */
  onProgress?: (p: SampleProgress) => void;
  /**
   * Live previews: onProgress gets the state `x` after every step at every compile level (compile
   * "block" downloads it once per block: `transfers.stepDownloads`).
   */
  previews?: boolean;
  /**
   * Awaited before every network call and every session load: a browser worker passes a macrotask yield
   * here so that messages (a cancel) are handled mid-generation (ORT WASM runs can resolve without
   * yielding to the event loop).
   */
  beforeRun?: () => Promise<void>;
}

export interface StageTimings {
  /** Milliseconds opening sessions (building and compiling graphs): only when the settings changed. */
  setup: number;
  /** Milliseconds in base-model runs (H and P blocks at level block). */
  base: number;
  /** Milliseconds in refiner runs (R blocks at level block). */
  refiner: number;
  /** Milliseconds in the solver loop, network calls included. */
  sampling: number;
  /** Milliseconds decoding (VAE). */
  decode: number;
  /** Wall time of the whole generation. */
  total: number;
}

export interface Generation {
  /** Samples as generated: [n, C, H, W] (pixels in [-1, 1] for pixel models, latents otherwise). */
  latents: Tensor;
  /** Images [n, 3, H, W] in [-1, 1]: decoded latents, or the samples of a pixel model; absent without decode. */
  images?: Tensor;
  labels: number[];
  nfe: NfeCounts;
  timings: StageTimings;
  provider: ExecutionProvider;
  /** Why the first requested provider was not used, when the backend says. */
  fallbackReason?: string;
  compile: CompileLevel;
  /** compile "block": state uploads/downloads and host copies. */
  transfers?: TransferCounts;
}

/** A request that breaks the pipeline's rules; `problems` names each field at fault. */
export class RequestError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map((p) => p.message).join("; "));
    this.name = "RequestError";
  }
}

/** The samples per batch of a request (its own, or all of them up to DEFAULT_BATCH). */
export function batchSizeOf(p: Pick<GenerateParams, "batch" | "labels">): number {
  return p.batch ?? Math.max(1, Math.min(p.labels.length, DEFAULT_BATCH));
}

/**
 * A request as the rules read it, with the pipeline's defaults filled in (compile level, guidance, seed,
 * batch): `checkRequest(ruleInput(p), model, limits)` is what a caller without the models (a page
 * checking its form) runs to get the same problems as `FlowTurboPipeline.check`.
 */
export function ruleInput(p: GenerateParams): RuleInput {
  return {
    method: p.method,
    compile: p.compile ?? defaultCompileLevel(p.method),
    cfg: p.cfg ?? 1,
    seed: p.seed ?? 0,
    samples: p.labels.length,
    labels: p.labels,
    batch: batchSizeOf(p),
  };
}

/** The backend with `beforeRun` and an abort check before every load (a cancel lands between sessions). */
function interruptible(backend: Backend, hooks: GenerateHooks): Backend {
  if (!hooks.signal && !hooks.beforeRun) return backend;
  return {
    name: backend.name,
    providers: () => backend.providers(),
    async load(source, opts) {
      await hooks.beforeRun?.();
      hooks.signal?.throwIfAborted();
      return backend.load(source, opts);
    },
  };
}

/** Adds every run of `session` to `timings[stage]`, after `beforeRun`. */
function timed(
  session: Session,
  stage: "base" | "refiner",
  timings: StageTimings,
  beforeRun?: () => Promise<void>,
): Session {
  return {
    get provider() {
      return session.provider;
    },
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputs) {
      await beforeRun?.();
      const t0 = performance.now();
      try {
        return await session.run(feeds, outputs);
      } finally {
        timings[stage] += performance.now() - t0;
      }
    },
    release: () => session.release(),
  };
}

export class FlowTurboPipeline {
  readonly config: SiTConfig;
  /** Class names recorded in the base model file, if any. */
  readonly classNames: readonly string[] | undefined;
  /** The base model's recommended settings (its "flowturbo.sampling" metadata, e.g. the guidance scale). */
  readonly defaults: SamplingDefaults;
  private readonly open = new Map<string, SamplingModels>();

  private constructor(
    private readonly backend: Backend,
    private readonly models: PipelineModels,
    private readonly options: PipelineOptions,
  ) {
    this.config = models.base.config;
    this.classNames = checkpointClassNames(models.base);
    this.defaults = samplingDefaultsOf(models.base.metadata, models.base.file);
  }

  /** Checks the models' kinds; sessions open on the first generate(). */
  static async open(
    backend: Backend,
    models: PipelineModels,
    options: PipelineOptions = {},
  ): Promise<FlowTurboPipeline> {
    const { base, refiner } = models;
    if (base.kind !== "sit") throw new ModelKindError(base.file, base.kind, "sit");
    if (refiner && refiner.kind !== "refiner")
      throw new ModelKindError(refiner.file, refiner.kind, "refiner");
    return new FlowTurboPipeline(backend, models, options);
  }

  get hasRefiner(): boolean {
    return this.models.refiner !== undefined;
  }

  /** Shape of one sample, [C, H, W]. */
  get sampleShape(): [number, number, number] {
    const c = this.config;
    return [c.keepChannels, c.inputSize, c.inputSize];
  }

  /** The compile level a request runs at (its own, or the method's default). */
  compileLevel(p: Pick<GenerateParams, "method" | "compile">): CompileLevel {
    return p.compile ?? defaultCompileLevel(p.method);
  }

  /** Samples per batch of a request. */
  batchSize(p: Pick<GenerateParams, "batch" | "labels">): number {
    return batchSizeOf(p);
  }

  /**
   * Every rule the request breaks for these models (empty: it can run). `limits`: the caller's sample
   * and batch limits (default DEFAULT_LIMITS; pages pass INTERACTIVE_LIMITS).
   */
  check(p: GenerateParams, limits?: Readonly<RequestLimits>): Problem[] {
    const vae: Problem[] =
      p.decode !== false && needsVae(this.models.base) && !this.models.vae
        ? [{ field: "vae", message: missingVaeMessage(this.models.base) }]
        : [];
    const [c, h, w] = this.sampleShape;
    const noise = p.noise ? checkNoise(p.noise, p.labels.length, c * h * w) : [];
    return vae.concat(
      noise,
      checkRequest(
        ruleInput(p),
        { numClasses: this.config.numClasses, hasRefiner: this.hasRefiner, classNames: this.classNames },
        limits,
      ),
    );
  }

  /** The key of the sessions a request runs on (requests with the same key share them). */
  private sessionKey(p: GenerateParams): { key: string; level: CompileLevel; plan?: Plan; batch: number } {
    const level = this.compileLevel(p);
    const plan = level === "block" ? blockPlanOf(p.method) : undefined;
    const batch = p.alignBatches ? this.batchSize(p) : Math.min(this.batchSize(p), p.labels.length);
    const guided = isGuided(p.cfg ?? 1);
    return {
      key: plan
        ? `block/${blockKindsFor(plan, { heunAsP: this.options.heunAsP }).join("")}/${batch}/${guided}`
        : level,
      level,
      plan,
      batch,
    };
  }

  /** True when a request's sessions are open already (its generate() compiles nothing). */
  hasSessions(p: GenerateParams): boolean {
    return this.open.has(this.sessionKey(p).key);
  }

  /**
   * Which sessions a request runs on: requests with the same id share them (an app compiling ahead of
   * a request, see sessions(), can tell whether that work is still wanted).
   */
  sessionsId(p: GenerateParams): string {
    return this.sessionKey(p).key;
  }

  /**
   * The sessions a request runs on, opened if needed: per-call base/refiner sessions (levels none and
   * model) or the block sessions of the method's plan (block). Reused while the settings match.
   * `hooks`: signal and beforeRun, checked before every session load.
   */
  async sessions(
    p: GenerateParams,
    hooks: Pick<GenerateHooks, "signal" | "beforeRun"> = {},
  ): Promise<SamplingModels> {
    const { key, level, plan, batch } = this.sessionKey(p);
    const guided = isGuided(p.cfg ?? 1);
    const hit = this.open.get(key);
    if (hit) {
      this.open.delete(key); // most recently used last
      this.open.set(key, hit);
      return hit;
    }
    const keep = Math.max(1, this.options.keepSessions ?? 1);
    while (this.open.size >= keep) {
      const [oldest, models] = this.open.entries().next().value as [string, SamplingModels];
      this.open.delete(oldest);
      await models.release();
    }
    const models = await openSamplingModels(interruptible(this.backend, hooks), {
      base: this.models.base,
      refiner: this.models.refiner,
      level,
      providers: this.options.providers,
      onnxSources: this.models.onnxSources,
      block: plan ? { batch, guided, plans: [plan] } : undefined,
      form: this.options.form,
      weightMode: this.options.weightMode,
      optimization: this.options.optimization,
      heunAsP: this.options.heunAsP,
    });
    this.open.set(key, models);
    return models;
  }

  /** Runs a request: checks it, opens (or reuses) its sessions, samples, decodes. */
  async generate(p: GenerateParams, hooks: GenerateHooks = {}): Promise<Generation> {
    const problems = this.check(p);
    if (problems.length) throw new RequestError(problems);
    const t0 = performance.now();
    if (hooks.onProgress && !this.hasSessions(p)) {
      const batch = this.batchSize(p);
      const steps = methodSteps(p.method);
      hooks.onProgress({
        done: 0,
        total: p.labels.length,
        step: 0,
        t: 0,
        nfe: { base: 0, refiner: 0 },
        stage: "sampling",
        phase: "compile",
        batch: 0,
        batches: batchCount(p.firstIndex ?? 0, p.labels.length, batch, p.alignBatches !== undefined),
        inBatch: Math.min(batch, p.labels.length),
        ...(steps === undefined ? {} : { steps }),
        fraction: 0,
      });
    }
    const m = await this.sessions(p, hooks);
    const timings: StageTimings = {
      setup: performance.now() - t0,
      base: 0,
      refiner: 0,
      sampling: 0,
      decode: 0,
      total: 0,
    };
    const level = this.compileLevel(p);
    const blocks = m.blocks?.sessions;
    const vae = p.decode === false ? undefined : this.models.vae;
    const batch = this.batchSize(p);
    const time = (s: Session | undefined, stage: "base" | "refiner") =>
      s && timed(s, stage, timings, hooks.beforeRun);
    const result = await sample({
      base: time(m.base, "base"),
      refiner: time(m.refiner, "refiner"),
      compile: level,
      blocks: blocks && {
        ...blocks,
        H: time(blocks.H, "base"),
        P: time(blocks.P, "base"),
        R: time(blocks.R, "refiner"),
      },
      shape: this.sampleShape,
      labels: p.labels,
      nullClass: this.config.numClasses,
      method: p.method,
      seed: p.seed ?? 0,
      firstIndex: p.firstIndex,
      cfgScale: p.cfg ?? 1,
      guidanceChannels: p.guidanceChannels,
      guidanceInterval: p.guidanceInterval,
      batchSize: batch,
      alignBatches: p.alignBatches,
      noise: p.noise,
      decode: vae ? (latents) => vae.decode(latents, { maxBatch: batch }) : undefined,
      signal: hooks.signal,
      onProgress: hooks.onProgress,
      stepStates: hooks.previews,
    });
    timings.sampling = result.timings.sampling;
    timings.decode = result.timings.decoding;
    timings.total = performance.now() - t0;
    const pixels = !needsVae(this.models.base);
    return {
      latents: result.latents,
      images: result.images ?? (pixels && p.decode !== false ? result.latents : undefined),
      labels: [...p.labels],
      nfe: result.nfe,
      timings,
      provider: m.provider,
      ...(m.fallbackReason ? { fallbackReason: m.fallbackReason } : {}),
      compile: level,
      ...(result.transfers ? { transfers: result.transfers } : {}),
    };
  }

  /** Releases every open session (the VAE decoder stays the caller's). */
  async release(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const m of all) await m.release();
  }
}
