// The web app's pipeline, free of DOM and worker code (so Node tests run it too): checkpoints ->
// sessions at a compile level (@flowturbo/refiner's openSamplingModels, as the CLI) -> @flowturbo/core's
// sample() -> optional VAE decode. Sessions are reused while the compile settings stay the same.
import {
  type Backend,
  blockKindsFor,
  type CompileLevel,
  type ExecutionProvider,
  type SampleProgress,
  type SamplingMethod,
  type Session,
  sample,
  type TransferCounts,
} from "@flowturbo/core";
import {
  checkpointClassNames,
  type ModelCheckpoint,
  openSamplingModels,
  type SamplingModels,
  type SiTConfig,
} from "@flowturbo/refiner";
import { parsePlan } from "@flowturbo/solvers";
import type { Tensor } from "@flowturbo/tensor";
import type { VaeDecoder } from "@flowturbo/vae";

export interface GenerateParams {
  /** Class of each sample (its length is the number of samples). */
  labels: readonly number[];
  method: SamplingMethod;
  cfg: number;
  seed: number;
  /** Samples per model call (and per compiled block batch). */
  batch: number;
  compile: CompileLevel;
}

export interface StageTimings {
  /** Milliseconds opening sessions (building and compiling graphs): only when the settings changed. */
  setup: number;
  /** Milliseconds in base-model runs (H and P blocks at level block). */
  base: number;
  /** Milliseconds in refiner runs (R blocks at level block). */
  refiner: number;
  /** Milliseconds decoding (VAE, or none for pixel models). */
  decode: number;
  /** Wall time of the whole generation. */
  total: number;
}

export interface Generation {
  /** float32 [n, 3, H, W] images in [-1, 1] (pixel models: the samples; latent models: decoded). */
  images: Tensor;
  latents: Tensor;
  labels: number[];
  nfe: { base: number; refiner: number };
  timings: StageTimings;
  provider: ExecutionProvider;
  compile: CompileLevel;
  /** compile "block": state uploads/downloads and host copies (no per-step copies on WebGPU). */
  transfers?: TransferCounts;
}

export interface GeneratorModels {
  base: ModelCheckpoint;
  refiner?: ModelCheckpoint;
  /** Required for latent models (4 channels). */
  vae?: VaeDecoder;
}

/** A compile level in use and the settings its sessions were opened for. */
interface OpenSessions {
  key: string;
  models: SamplingModels;
}

/** The plan a block-compiled method runs (Heun N = plan HN), or undefined if it cannot be block-compiled. */
export function blockPlanOf(method: SamplingMethod): string | undefined {
  if ("plan" in method) return method.plan;
  if (method.solver === "heun") return `H${method.steps}`;
  return undefined;
}

export interface GenerateHooks {
  signal?: AbortSignal;
  onProgress?: (p: SampleProgress) => void;
  /**
   * Awaited before every network call: a worker passes a macrotask yield here so that messages (a
   * cancel) are handled mid-generation (ORT WASM runs can resolve without ever yielding to the event loop).
   */
  beforeRun?: () => Promise<void>;
}

/** Session time per stage: every run of `session` adds to `timings[stage]`. */
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

/** Pixel models (3 channels) need nothing to become images; latent models need a VAE decoder. */
export function requireDecoder(base: ModelCheckpoint, hasVae: boolean): void {
  if (base.config.keepChannels !== 3 && !hasVae)
    throw new Error(
      `${base.file} generates ${base.config.keepChannels}-channel latents: give a VAE (diffusion_pytorch_model.safetensors of stabilityai/sd-vae-ft-ema) to decode them`,
    );
}

export class Generator {
  readonly config: SiTConfig;
  readonly classNames: string[] | undefined;
  private open: OpenSessions | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly models: GeneratorModels,
    private readonly providers: readonly ExecutionProvider[],
  ) {
    this.config = models.base.config;
    this.classNames = checkpointClassNames(models.base);
    requireDecoder(models.base, models.vae !== undefined);
  }

  get hasRefiner(): boolean {
    return this.models.refiner !== undefined;
  }

  /** Checks parameters against the model; returns a message for the user, or undefined if fine. */
  check(p: GenerateParams): string | undefined {
    if (p.labels.length < 1) return "choose at least one sample";
    const bad = p.labels.find((c) => !Number.isInteger(c) || c < 0 || c >= this.config.numClasses);
    if (bad !== undefined) return `class ${bad} is not in 0..${this.config.numClasses - 1}`;
    if ("plan" in p.method) {
      try {
        if (parsePlan(p.method.plan).counts.R > 0 && !this.hasRefiner)
          return `plan ${p.method.plan} has refiner (R) steps but this model has no refiner`;
      } catch (e) {
        return (e as Error).message;
      }
    }
    if (p.compile === "block" && !blockPlanOf(p.method))
      return `compile "block" runs FlowTurbo plans and Heun; use "model" with ${(p.method as { solver: string }).solver}`;
    if (!Number.isFinite(p.cfg) || p.cfg < 0) return `guidance scale must be a number >= 0, got ${p.cfg}`;
    return undefined;
  }

  /** Sessions for these parameters: reused while level (and, for blocks, plan, batch and guidance) match. */
  private async sessions(p: GenerateParams): Promise<SamplingModels> {
    const plan = p.compile === "block" ? blockPlanOf(p.method)! : "";
    const batch = Math.min(p.batch, p.labels.length);
    const guided = p.cfg !== 1;
    const kinds = plan ? blockKindsFor(plan).join("") : "";
    const key = p.compile === "block" ? `block/${kinds}/${batch}/${guided}` : p.compile;
    if (this.open?.key === key) return this.open.models;
    await this.release();
    const models = await openSamplingModels(this.backend, {
      base: this.models.base,
      refiner: this.models.refiner,
      level: p.compile,
      providers: this.providers,
      block: { batch, guided, plans: [plan] },
    });
    this.open = { key, models };
    return models;
  }

  async generate(p: GenerateParams, hooks: GenerateHooks = {}): Promise<Generation> {
    const problem = this.check(p);
    if (problem) throw new Error(problem);
    const t0 = performance.now();
    const m = await this.sessions(p);
    const timings: StageTimings = { setup: performance.now() - t0, base: 0, refiner: 0, decode: 0, total: 0 };
    const blocks = m.blocks?.sessions;
    const c = this.config;
    const vae = this.models.vae;
    const result = await sample({
      base: m.base && timed(m.base, "base", timings, hooks.beforeRun),
      refiner: m.refiner && timed(m.refiner, "refiner", timings, hooks.beforeRun),
      compile: p.compile,
      blocks: blocks && {
        ...blocks,
        H: blocks.H && timed(blocks.H, "base", timings, hooks.beforeRun),
        P: blocks.P && timed(blocks.P, "base", timings, hooks.beforeRun),
        R: blocks.R && timed(blocks.R, "refiner", timings, hooks.beforeRun),
      },
      shape: [c.keepChannels, c.inputSize, c.inputSize],
      labels: p.labels,
      nullClass: c.numClasses,
      method: p.method,
      seed: p.seed,
      cfgScale: p.cfg,
      guidanceChannels: "sit", // SiT/FlowTurbo's rule: channels 0..2 of the 4 latent channels
      batchSize: Math.min(p.batch, p.labels.length),
      decode: vae ? (latents) => vae.decode(latents, { maxBatch: p.batch }) : undefined,
      signal: hooks.signal,
      onProgress: hooks.onProgress,
    });
    timings.decode = result.timings.decoding;
    timings.total = performance.now() - t0;
    return {
      images: result.images ?? result.latents,
      latents: result.latents,
      labels: [...p.labels],
      nfe: result.nfe,
      timings,
      provider: m.provider,
      compile: p.compile,
      transfers: result.transfers,
    };
  }

  /** Why the first requested provider is not the one in use (after a generation), if the backend says. */
  get fallbackReason(): string | undefined {
    return this.open?.models.fallbackReason;
  }

  async release(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    await open?.models.release();
  }
}
