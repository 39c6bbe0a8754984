// What both ONNX Runtime adapters (@flowturbo/backend-node, @flowturbo/backend-web) share: the element types
// and log levels they map, session options, tensor data and value metadata conversion, keepOnDevice
// checks, the provider fallback loop and error text. ORT is typed here structurally (the few fields read),
// so that core imports neither onnxruntime-node nor onnxruntime-web and both packages' types fit.
import { type DType, type GraphForm, type TypedArray, toOnnx } from "@flowturbo/tensor";
import type { ExecutionProvider, GraphSource, ModelSource, Session, SessionOptions } from "./backend";
import type { ValueInfo } from "./feeds";

/** Element types that travel between ORT tensors and @flowturbo/tensor. */
export const ORT_DTYPES: ReadonlySet<string> = new Set<DType>([
  "float32",
  "float16",
  "float64",
  "int64",
  "int32",
  "uint8",
  "bool",
]);

/** ONNX Runtime log level of sessions. */
export type LogLevel = "verbose" | "info" | "warning" | "error" | "fatal";

/**
 * The graph form ONNX Runtime runs best, and right, on a provider: "fused" (its contrib ops
 * MultiHeadAttention and FastGelu), but "plain" on WebGPU: ORT 1.30's WebGPU MultiHeadAttention is off by
 * ~1-2% of its output from 32 tokens on (its flash-attention path; exact below 32), so SiT's 64+ tokens
 * would sample wrong images there (FastGelu is exact, but the fused form is one choice for both ops).
 */
export function ortGraphForm(provider: ExecutionProvider): GraphForm {
  return provider === "webgpu" ? "plain" : "fused";
}

/** ORT's `logSeverityLevel` for each log level. */
export const ORT_LOG_SEVERITY: Readonly<Record<LogLevel, 0 | 1 | 2 | 3 | 4>> = {
  verbose: 0,
  info: 1,
  warning: 2,
  error: 3,
  fatal: 4,
};

/** The message of a thrown value (ORT throws Errors, but anything can be thrown). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The model's name in messages: the graph name, the file path or URL, or "<n bytes>". */
export function modelSourceName(source: ModelSource): string {
  if (typeof source === "string") return source;
  if (source instanceof Uint8Array) return `<${source.byteLength} bytes>`;
  return source.graph.name;
}

/** A Session of an ONNX Runtime adapter: what it says about the model and the provider choice. */
export interface OrtAdapterSession extends Session {
  /** The model's name in messages: the graph name, the file path (Node) or URL (web), or "<n bytes>". */
  readonly name: string;
  /** Why providers before `provider` in the requested list were not used; undefined if the first one was. */
  readonly fallbackReason: string | undefined;
  readonly inputInfo: readonly ValueInfo[];
  readonly outputInfo: readonly ValueInfo[];
}

/** The parts of an ORT tensor (onnxruntime-node's or onnxruntime-web's) read here. */
export interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
}

/** A host tensor as plain parts (what `new Tensor(dtype, shape, data)` takes). */
export interface HostTensorParts {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

/**
 * The host data of an ORT CPU tensor, `data` being its `.data` or `await getData()` (shared, not copied).
 * float16 stays Uint16Array bits: where the JS engine has Float16Array, ORT hands float16 data out as one.
 * Throws, naming `what`, for element types @flowturbo/tensor does not support.
 */
export function fromOrtData(t: OrtTensorLike, data: unknown, what: string): HostTensorParts {
  if (!ORT_DTYPES.has(t.type))
    throw new Error(`${what} has element type '${t.type}', which @flowturbo/tensor does not support`);
  let d = data as TypedArray;
  if (t.type === "float16" && !(d instanceof Uint16Array)) {
    const v = d as unknown as ArrayBufferView;
    d = new Uint16Array(v.buffer, v.byteOffset, v.byteLength / 2);
  }
  return { dtype: t.type as DType, shape: [...t.dims], data: d };
}

/** The dtype of an output kept where the session runs; throws for element types @flowturbo/tensor lacks. */
export function deviceOutputDType(t: OrtTensorLike, model: string, output: string): DType {
  if (!ORT_DTYPES.has(t.type))
    throw new Error(`model '${model}': output '${output}' has unsupported type '${t.type}'`);
  return t.type as DType;
}

/** ORT's `InferenceSession.ValueMetadata` (the fields read here). */
export type OrtValueMetadata =
  | { readonly name: string; readonly isTensor: false }
  | {
      readonly name: string;
      readonly isTensor: true;
      readonly type: string;
      readonly shape: readonly (number | string)[];
    };

/** ORT's input or output metadata as ValueInfo (non-tensor values get type "non-tensor"). */
export function valueInfo(list: readonly OrtValueMetadata[]): ValueInfo[] {
  return list.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: "non-tensor" },
  );
}

/** Throws when `keepOnDevice` names outputs the model does not have. */
export function checkKeepOnDevice(
  model: string,
  keepOnDevice: readonly string[] | undefined,
  outputNames: readonly string[],
): void {
  const unknown = (keepOnDevice ?? []).filter((n) => !outputNames.includes(n));
  if (unknown.length)
    throw new Error(`model '${model}': keepOnDevice names unknown outputs ${unknown.join(", ")}`);
}

/** A graph source emitted as ONNX bytes, once `keepOnDevice` is known to name outputs of the graph. */
export function graphSourceOnnx(
  model: string,
  source: GraphSource,
  keepOnDevice: readonly string[] | undefined,
): Uint8Array {
  checkKeepOnDevice(
    model,
    keepOnDevice,
    source.graph.outputs.map((o) => o.name),
  );
  return toOnnx(source.graph, { weights: source.weights, paramsAsInputs: source.paramsAsInputs });
}

/** The session options both adapters set the same way (each adds its own: providers, threads, ...). */
export function ortSessionOptions(
  provider: ExecutionProvider,
  o: Pick<SessionOptions, "optimization" | "keepOnDevice"> & { logLevel?: LogLevel },
): {
  graphOptimizationLevel: NonNullable<SessionOptions["optimization"]>;
  logSeverityLevel: 0 | 1 | 2 | 3 | 4;
  preferredOutputLocation?: Record<string, "gpu-buffer">;
} {
  const opts: ReturnType<typeof ortSessionOptions> = {
    graphOptimizationLevel: o.optimization ?? "all",
    logSeverityLevel: ORT_LOG_SEVERITY[o.logLevel ?? "error"],
  };
  if (provider === "webgpu" && o.keepOnDevice?.length) {
    opts.preferredOutputLocation = Object.fromEntries(o.keepOnDevice.map((n) => [n, "gpu-buffer" as const]));
  }
  return opts;
}

/** The error of a failed ORT run: `model 'X' (provider): run failed: <ORT message>`. */
export function runFailed(model: string, provider: ExecutionProvider, e: unknown): Error {
  return new Error(`model '${model}' (${provider}): run failed: ${errorMessage(e)}`);
}

/** The parts of an ORT InferenceSession the fallback loop uses. */
export interface OrtSessionLike {
  readonly outputNames: readonly string[];
  release(): Promise<void>;
}

export interface FallbackOptions<S extends OrtSessionLike> {
  /** The model's display name in messages. */
  name: string;
  /** Providers in order of preference, as requested (reasons name them so). */
  providers: readonly ExecutionProvider[];
  /** Outputs to keep on the device: a session whose model lacks one is released and the load fails. */
  keepOnDevice?: readonly string[];
  /** Why a provider cannot even be tried here, or undefined. */
  unavailable(provider: ExecutionProvider): string | undefined;
  /** Creates the session on one provider; a rejection moves on to the next provider. */
  create(provider: ExecutionProvider): Promise<S>;
  /** Text appended to the reason a provider failed with `message` (e.g. how to make it work). */
  hint?(provider: ExecutionProvider, message: string): string;
}

export interface FallbackResult<S> {
  session: S;
  /** The provider of the list that created the session. */
  provider: ExecutionProvider;
  /** Why earlier providers were skipped ("cuda: ...; webgpu: ..."); undefined if the first one was used. */
  fallbackReason: string | undefined;
}

/**
 * Tries the providers in order and returns the first session created; throws
 * `cannot load model 'X' (p1: reason; p2: reason)` when none can be.
 */
export async function loadWithFallback<S extends OrtSessionLike>(
  o: FallbackOptions<S>,
): Promise<FallbackResult<S>> {
  if (o.providers.length === 0) throw new Error(`model '${o.name}': no execution provider requested`);
  const reasons: string[] = [];
  for (const p of o.providers) {
    const why = o.unavailable(p);
    if (why) {
      reasons.push(`${p}: ${why}`);
      continue;
    }
    let session: S;
    try {
      session = await o.create(p);
    } catch (e) {
      const message = errorMessage(e);
      reasons.push(`${p}: ${message}${o.hint?.(p, message) ?? ""}`);
      continue;
    }
    try {
      checkKeepOnDevice(o.name, o.keepOnDevice, session.outputNames);
    } catch (e) {
      await session.release();
      throw e;
    }
    return { session, provider: p, fallbackReason: reasons.length ? reasons.join("; ") : undefined };
  }
  throw new Error(`cannot load model '${o.name}' (${reasons.join("; ")})`);
}

/** Where ONNX Runtime placed the nodes of one session: node count per execution provider. */
export type NodePlacement = Record<string, number>;

const PLACEMENT_HEADER = /VerifyEachNodeIsAssignedToAnEp\] Node placements/;
const PLACED = /(?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/;

/**
 * The node placements of every session created while ORT logged at level "verbose" (logSeverityLevel 0),
 * in order, from its log text (onnxruntime-node: the process's stderr; onnxruntime-web: the console).
 * ORT prints "Node placements" and then, per provider, "All nodes placed on [X]. Number of nodes: n" or
 * "Node(s) placed on [X]. Number of nodes: n". Nodes a GPU provider leaves to CPUExecutionProvider are
 * the CPU fallbacks.
 */
export function nodePlacements(log: string): NodePlacement[] {
  const sessions: NodePlacement[] = [];
  let current: NodePlacement | undefined;
  for (const line of log.split("\n")) {
    if (PLACEMENT_HEADER.test(line)) {
      current = {};
      sessions.push(current);
      continue;
    }
    const m = PLACED.exec(line);
    if (m && current) current[m[1]] = (current[m[1]] ?? 0) + Number(m[2]);
  }
  return sessions;
}
