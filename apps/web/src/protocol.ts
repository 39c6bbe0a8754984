// Messages between the page (main.ts) and the generation worker (worker.ts). Everything is structured-
// clonable; image data travels as transferred Float32Arrays.
import type { CompileLevel, MethodInput, StageTimings, TransferCounts } from "@flowturbo/pipeline";

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
  batch: number;
  /** Undefined: the pipeline's default for the method (block for plans and Heun). */
  compile?: CompileLevel;
  /** Post the state of the current batch after every step (live preview). */
  preview: boolean;
}

export type ToWorker =
  | { type: "load"; model: ModelChoice; backend: BackendChoice }
  | { type: "generate"; id: number; request: GenerateRequest }
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

export type FromWorker =
  | { type: "download"; file: string; loaded: number; total?: number; cached: boolean }
  | { type: "loaded"; model: ModelInfo; webgpu: WebGpuStatus; providers: string[] }
  | {
      type: "progress";
      id: number;
      done: number;
      total: number;
      step: number;
      t: number;
      nfe: { base: number; refiner: number };
      stage: "sampling" | "decoding";
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
    }
  | { type: "cancelled"; id: number }
  | { type: "error"; id?: number; stage: "load" | "generate"; message: string };
