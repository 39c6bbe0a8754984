// Messages between the page (main.ts) and the generation worker (worker.ts). Everything is structured-
// clonable; image data travels as transferred Float32Arrays.
import type { LogLevel } from "@flowturbo/core";
import type {
  CompileLevel,
  MethodInput,
  ProgressPhase,
  StageTimings,
  TransferCounts,
} from "@flowturbo/pipeline";

/** Where a model file comes from: a URL (fetched, kept in Cache Storage) or a file the user picked. */
/** `name`: what messages call a URL (default: its last path segment). */
export type FileRef = { url: string; name?: string } | { file: File };

export interface ModelChoice {
  base: FileRef;
  refiner?: FileRef;
  /** diffusers VAE: diffusion_pytorch_model.safetensors (+ optional config.json); latent models only. */
  vae?: FileRef;
  vaeConfig?: FileRef;
  /** Attention heads, for checkpoints of a non-standard width that do not record their config. */
  heads?: number;
}

/** "auto": WebGPU when the browser offers an adapter, else WASM. */
export type BackendChoice = "auto" | "webgpu" | "wasm";

export interface GenerateRequest {
  labels: number[];
  /** Checked by the worker's pipeline (parseMethod). */
  method: MethodInput;
  cfg: number;
  seed: number;
  /** Samples per batch; undefined: the pipeline's default (all, up to 16). */
  batch?: number;
  /** Undefined: the pipeline's default for the method (block for plans and Heun). */
  compile?: CompileLevel;
  /** Post the state of the current batch after every step (live preview; compile block: one download per block). */
  preview: boolean;
}

/** Loads and generations have ids; a cancel names the one to stop (a download, a compile, a run). */
export type ToWorker =
  | {
      type: "load";
      id: number;
      model: ModelChoice;
      backend: BackendChoice;
      /** ONNX Runtime's log level (?ortLog=), set when the worker starts ONNX Runtime (its first load). */
      ortLog?: LogLevel;
    }
  | { type: "generate"; id: number; request: GenerateRequest }
  /**
   * Compile the sessions of these settings now, ahead of a Generate, and warm them up with one run of each
   * block graph (queued like loads and generations; dropped when a later load or Generate needs other
   * sessions). Answered by "prepared" once compiled.
   */
  | { type: "prepare"; request: GenerateRequest }
  | { type: "cancel"; id: number };

export interface WebGpuStatus {
  available: boolean;
  /** Why WebGPU is not used (no navigator.gpu, no adapter, not requested...). */
  reason?: string;
  adapter?: string;
}

export interface ModelInfo {
  file: string;
  numClasses: number;
  classNames?: string[];
  /** The model's recommended guidance scale (metadata "flowturbo.sampling"), if it records one. */
  recommendedCfg?: number;
  /** [C, H, W] of one sample. */
  shape: number[];
  hasRefiner: boolean;
  hasVae: boolean;
  parameters: number;
}

/** ONNX Runtime's WASM threads: more than 1 needs a cross-origin isolated page (SharedArrayBuffer). */
export interface WasmThreads {
  count: number;
  isolated: boolean;
}

export type FromWorker =
  | { type: "download"; id: number; file: string; loaded: number; total?: number; cached: boolean }
  | {
      type: "loaded";
      id: number;
      model: ModelInfo;
      webgpu: WebGpuStatus;
      providers: string[];
      backend: BackendChoice;
      threads: WasmThreads;
    }
  | {
      type: "progress";
      id: number;
      /** When the worker posted it (performance.timeOrigin + performance.now(): comparable with the page's). */
      at: number;
      /** The pipeline's SampleProgress: phase, samples done/total, batch, step of steps, overall fraction. */
      phase: ProgressPhase;
      done: number;
      total: number;
      batch: number;
      batches: number;
      inBatch: number;
      step: number;
      steps?: number;
      t: number;
      fraction: number;
      nfe: { base: number; refiner: number };
      compile: CompileLevel;
      /** The current batch's state [rows, C, H, W] (conditional half only), for the live preview. */
      preview?: { data: Float32Array; shape: number[] };
    }
  | {
      type: "result";
      id: number;
      /** float32 [n, 3, H, W] in [-1, 1]. */
      images: Float32Array;
      shape: number[];
      labels: number[];
      nfe: { base: number; refiner: number };
      timings: StageTimings;
      provider: string;
      /** Why the preferred provider was not used (e.g. WebGPU unavailable), if it was not. */
      fallbackReason?: string;
      compile: CompileLevel;
      transfers?: TransferCounts;
      /** The request's seed and method (the Download name and captions use these, not the fields now). */
      seed: number;
      method: string;
    }
  /** A "prepare" compiled its sessions: a Generate with those settings starts sampling at once. */
  | { type: "prepared"; ms: number; provider: string; compile: CompileLevel }
  | {
      type: "cancelled";
      id: number;
      stage: "load" | "generate";
      /** When the cancel reached the worker (its clock, as progress `at`): it is read between model runs. */
      cancelSeenAt?: number;
    }
  | {
      type: "error";
      id: number;
      stage: "load" | "generate";
      message: string;
      /** A failed load: the model still in use (the previous one), if any. */
      kept?: string;
    };
