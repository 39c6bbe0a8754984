// The Backend interface every execution adapter (Node ORT, web ORT) implements.
import type { DType, Graph, GraphForm, Tensor } from "@flowturbo/tensor";

/** Execution providers across adapters. Node: cpu, cuda, webgpu (Dawn). Web: webgpu, wasm. "reference": the float64 interpreter. */
export type ExecutionProvider = "cpu" | "cuda" | "webgpu" | "wasm" | "reference";

/** A graph built with @flowturbo/tensor plus the weights of its parameters. */
export interface GraphSource {
  graph: Graph;
  weights?: ReadonlyMap<string, Tensor> | Record<string, Tensor>;
  /** Parameters become graph inputs (fed at run time) instead of initializers. */
  paramsAsInputs?: boolean | ((name: string) => boolean);
}

/**
 * What a backend can load: ONNX bytes, a file path (Node) or URL (web) of an .onnx file (external
 * data next to it is found by the runtime), or a graph that the backend emits as ONNX itself.
 */
export type ModelSource = Uint8Array | string | GraphSource;

export interface SessionOptions {
  /** Providers in order of preference; the adapter falls back along the list and reports the one used. */
  providers?: readonly ExecutionProvider[];
  /** Intra-op threads (CPU/WASM). */
  threads?: number;
  /** Output names to keep on the device (e.g. WebGPU gpu-buffer) instead of copying to the host. */
  keepOnDevice?: readonly string[];
  /** Graph optimization level; "all" by default. */
  optimization?: "disabled" | "basic" | "extended" | "all";
}

/** A tensor that stays on the device between runs; download() copies it to the host. */
export interface DeviceTensor {
  readonly kind: "device";
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly location: string;
  download(): Promise<Tensor>;
  dispose(): void;
}

export type RunValue = Tensor | DeviceTensor;

export function isDeviceTensor(v: unknown): v is DeviceTensor {
  return typeof v === "object" && v !== null && (v as DeviceTensor).kind === "device";
}

export interface Session {
  /** The provider that actually runs this session (after any fallback). */
  readonly provider: ExecutionProvider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs with named inputs; returns the requested outputs (all by default). */
  run(feeds: Record<string, RunValue>, outputs?: readonly string[]): Promise<Record<string, RunValue>>;
  release(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  /**
   * The form of model graphs this backend runs best (GraphForm; "plain" when absent): the ONNX Runtime
   * adapters take "fused" (contrib ops MultiHeadAttention, FastGelu), which the interpreter also runs.
   */
  readonly graphForm?: GraphForm;
  /**
   * The form to use when `provider` runs the graphs, where it differs from `graphForm` by provider (the
   * ONNX Runtime adapters: plain on WebGPU, see ortGraphForm). Absent: `graphForm` on every provider.
   */
  graphFormOn?(provider: ExecutionProvider): GraphForm;
  /** Providers this runtime offers here (a listed provider may still fail to initialise: see Session.provider). */
  providers(): Promise<ExecutionProvider[]>;
  load(source: ModelSource, opts?: SessionOptions): Promise<Session>;
}

/** Downloads a run value to the host if it lives on a device. */
export async function toHost(v: RunValue): Promise<Tensor> {
  return isDeviceTensor(v) ? v.download() : v;
}
