// The onnxruntime-web backend: WebGPU (the native WebGPU build, `onnxruntime-web/webgpu`) with WASM
// fallback. Works in browsers, Web Workers and Node (WASM); uses no DOM and no Node modules.
import type {
  Backend,
  DeviceTensor,
  ExecutionProvider,
  GraphSource,
  ModelSource,
  RunValue,
  Session,
  SessionOptions,
} from "@flowturbo/core";
import { checkFeeds, isDeviceTensor, shapeString } from "@flowturbo/core";
import {
  type DType,
  decodeModel,
  OnnxDataLocation,
  Tensor,
  type TypedArray,
  toOnnx,
} from "@flowturbo/tensor";
import type * as OrtWeb from "onnxruntime-web/webgpu";

/** An onnxruntime-web module: `onnxruntime-web/webgpu` by default; any build of the same version fits. */
export type OrtModule = typeof OrtWeb;
type OrtTensor = OrtWeb.Tensor;
type OrtSession = OrtWeb.InferenceSession;

export type LogLevel = "verbose" | "info" | "warning" | "error" | "fatal";

export interface WebBackendOptions {
  /**
   * The onnxruntime-web module to use. Default: `onnxruntime-web/webgpu` (the native WebGPU build, with
   * WASM) in browsers and workers; under Node, `onnxruntime-web`'s Node build (WASM only).
   */
  ort?: OrtModule | Promise<OrtModule>;
  /** Where ORT finds its .wasm/.mjs files (`ort.env.wasm.wasmPaths`), e.g. "/ort/". Default: next to ORT's own module. */
  wasmPaths?: string;
  /** WASM threads (`ort.env.wasm.numThreads`: global, fixed once ORT initialised; threads need cross-origin isolation in browsers). */
  threads?: number;
  /** Default provider preference when SessionOptions.providers is not given. Default ["webgpu", "wasm"]. */
  providers?: readonly ExecutionProvider[];
  /** ONNX Runtime log level. Default "error". */
  logLevel?: LogLevel;
}

import type { ValueInfo } from "@flowturbo/core";

export type { ValueInfo };

export interface WebSession extends Session {
  /** The model's name in messages: the graph name, the URL, or "<n bytes>". */
  readonly name: string;
  /** Why providers before `provider` in the requested list were not used; undefined if the first one was. */
  readonly fallbackReason: string | undefined;
  readonly inputInfo: readonly ValueInfo[];
  readonly outputInfo: readonly ValueInfo[];
}

export interface WebBackend extends Backend {
  readonly name: "onnxruntime-web";
  load(source: ModelSource, opts?: SessionOptions): Promise<WebSession>;
  /** The onnxruntime-web module in use (after the first load or providers() call). */
  ort(): Promise<OrtModule>;
  /** Releases every session of this backend. */
  close(): Promise<void>;
}

/**
 * Under Node the default is onnxruntime-web's Node build (WASM, threaded). The WebGPU build's 26 MB
 * asyncify module, once instantiated in Node 20, stalls every later asynchronous WebAssembly.compile in the
 * process for about a minute (fetch(), ESM imports of CommonJS packages...), and runs single-threaded only.
 * A variable specifier keeps bundlers from pulling this build into browser bundles.
 */
const NODE_BUILD = "onnxruntime-web";

const DTYPES: ReadonlySet<string> = new Set<DType>([
  "float32",
  "float16",
  "float64",
  "int64",
  "int32",
  "uint8",
  "bool",
]);

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

function hasWebGpu(): boolean {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  return nav?.gpu !== undefined;
}

/** Host tensor from an ORT CPU tensor (float16 kept as Uint16Array bits, whatever the engine offers). */
function fromOrt(t: OrtTensor, data: unknown, what: string): Tensor {
  if (!DTYPES.has(t.type))
    throw new Error(`${what} has element type '${t.type}', which @flowturbo/tensor does not support`);
  let d = data as TypedArray;
  if (t.type === "float16" && !(d instanceof Uint16Array)) {
    const v = d as unknown as ArrayBufferView;
    d = new Uint16Array(v.buffer, v.byteOffset, v.byteLength / 2);
  }
  return new Tensor(t.type as DType, [...t.dims], d);
}

/** An output kept in a WebGPU buffer. */
class WebDeviceTensor implements DeviceTensor {
  readonly kind = "device";
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly location: string;
  private disposed = false;

  constructor(
    readonly owner: WebBackendImpl,
    readonly tensor: OrtTensor,
  ) {
    this.dtype = tensor.type as DType;
    this.shape = Object.freeze([...tensor.dims]);
    this.location = tensor.location;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  async download(): Promise<Tensor> {
    if (this.disposed) throw new Error(`device tensor ${this.dtype}${shapeString(this.shape)} was disposed`);
    return fromOrt(this.tensor, await this.tensor.getData(false), "device tensor");
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tensor.dispose();
  }
}

function metadata(list: readonly OrtWeb.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return list.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: "non-tensor" },
  );
}

class WebSessionImpl implements WebSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputInfo: readonly ValueInfo[];
  readonly outputInfo: readonly ValueInfo[];
  private released = false;
  private readonly deviceValues = new Set<WebDeviceTensor>();

  constructor(
    private readonly backend: WebBackendImpl,
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly name: string,
    readonly provider: ExecutionProvider,
    readonly fallbackReason: string | undefined,
  ) {
    this.inputInfo = metadata(session.inputMetadata);
    this.outputInfo = metadata(session.outputMetadata);
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
  }

  private check(feeds: Record<string, RunValue>, outputs?: readonly string[]): void {
    checkFeeds(this.name, this.inputInfo, this.outputNames, feeds, outputs);
  }

  async run(feeds: Record<string, RunValue>, outputs?: readonly string[]): Promise<Record<string, RunValue>> {
    if (this.released) throw new Error(`model '${this.name}': session was released`);
    this.check(feeds, outputs);
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, v] of Object.entries(feeds)) {
      if (
        v instanceof WebDeviceTensor &&
        v.owner === this.backend &&
        !v.isDisposed &&
        (this.provider === "webgpu" || v.location === "cpu")
      ) {
        ortFeeds[name] = v.tensor;
        continue;
      }
      const host = isDeviceTensor(v) ? await v.download() : v;
      ortFeeds[name] = new this.ort.Tensor(host.dtype as "float32", host.data as Float32Array, [
        ...host.shape,
      ]);
    }
    let result: OrtWeb.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run(ortFeeds, outputs ? [...outputs] : [...this.outputNames]);
    } catch (e) {
      throw new Error(`model '${this.name}' (${this.provider}): run failed: ${errorMessage(e)}`);
    }
    const out: Record<string, RunValue> = {};
    for (const [name, value] of Object.entries(result)) {
      const t = value as OrtTensor;
      if (t.location === "cpu" || t.location === "cpu-pinned") {
        out[name] = fromOrt(t, t.data, `model '${this.name}': output '${name}'`);
      } else {
        if (!DTYPES.has(t.type))
          throw new Error(`model '${this.name}': output '${name}' has unsupported type '${t.type}'`);
        const d = new WebDeviceTensor(this.backend, t);
        this.deviceValues.add(d);
        out[name] = d;
      }
    }
    return out;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const d of this.deviceValues) d.dispose();
    this.deviceValues.clear();
    this.backend.forget(this);
    await this.session.release();
  }
}

function sourceName(source: ModelSource): string {
  if (typeof source === "string") return source;
  if (source instanceof Uint8Array) return `<${source.byteLength} bytes>`;
  return source.graph.name;
}

interface ExternalFile {
  path: string;
  data: Uint8Array;
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`cannot fetch ${what} ${url}: ${errorMessage(e)}`);
  }
  if (!res.ok) throw new Error(`cannot fetch ${what} ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Fetches an .onnx URL and the external data files its initializers name (resolved against the model
 * URL): ORT-web does not find those by itself, and its Node build reads string paths from the disk.
 */
async function fetchModel(url: string): Promise<{ bytes: Uint8Array; externalData: ExternalFile[] }> {
  const bytes = await fetchBytes(url, "model");
  const locations = new Set<string>();
  try {
    for (const t of decodeModel(bytes).graph.initializer ?? []) {
      if (t.dataLocation !== OnnxDataLocation.EXTERNAL) continue;
      const loc = t.externalData?.find((e) => e.key === "location")?.value;
      if (loc) locations.add(loc);
    }
  } catch (e) {
    throw new Error(`model ${url} is not a valid ONNX model: ${errorMessage(e)}`);
  }
  const base = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  const externalData = await Promise.all(
    [...locations].map(async (path) => ({
      path,
      data: await fetchBytes(new URL(path, base).href, `external data of ${url}:`),
    })),
  );
  return { bytes, externalData };
}

const LOG_SEVERITY: Record<LogLevel, 0 | 1 | 2 | 3 | 4> = {
  verbose: 0,
  info: 1,
  warning: 2,
  error: 3,
  fatal: 4,
};

class WebBackendImpl implements WebBackend {
  readonly name = "onnxruntime-web";
  private module?: Promise<OrtModule>;
  private readonly sessions = new Set<WebSessionImpl>();

  constructor(private readonly opts: WebBackendOptions) {}

  ort(): Promise<OrtModule> {
    this.module ??= (async () => {
      let ort: OrtModule;
      if (this.opts.ort !== undefined) ort = await this.opts.ort;
      else if (isNode()) ort = (await import(/* @vite-ignore */ NODE_BUILD)) as OrtModule;
      else ort = await import("onnxruntime-web/webgpu");
      const env = ort.env;
      if (this.opts.wasmPaths !== undefined) env.wasm.wasmPaths = this.opts.wasmPaths;
      if (this.opts.threads !== undefined) env.wasm.numThreads = this.opts.threads;
      env.logLevel = this.opts.logLevel ?? "error";
      return ort;
    })();
    return this.module;
  }

  forget(s: WebSessionImpl): void {
    this.sessions.delete(s);
  }

  async providers(): Promise<ExecutionProvider[]> {
    await this.ort();
    return hasWebGpu() ? ["webgpu", "wasm"] : ["wasm"];
  }

  private unavailable(p: ExecutionProvider): string | undefined {
    if (p === "cuda") return "not an onnxruntime-web provider (use @flowturbo/backend-node)";
    if (p === "webgpu" && !hasWebGpu()) return "navigator.gpu is not available here";
    return undefined;
  }

  async load(source: ModelSource, opts: SessionOptions = {}): Promise<WebSession> {
    const ort = await this.ort();
    const name = sourceName(source);
    let model: Uint8Array;
    let externalData: ExternalFile[] | undefined;
    if (typeof source === "string") {
      ({ bytes: model, externalData } = await fetchModel(source));
    } else if (source instanceof Uint8Array) {
      model = source;
    } else {
      const g = (source as GraphSource).graph;
      const names = new Set(g.outputs.map((o) => o.name));
      const unknown = (opts.keepOnDevice ?? []).filter((n) => !names.has(n));
      if (unknown.length)
        throw new Error(`model '${name}': keepOnDevice names unknown outputs ${unknown.join(", ")}`);
      model = toOnnx(g, {
        weights: (source as GraphSource).weights,
        paramsAsInputs: (source as GraphSource).paramsAsInputs,
      });
    }
    const requested = opts.providers ?? this.opts.providers ?? ["webgpu", "wasm"];
    if (requested.length === 0) throw new Error(`model '${name}': no execution provider requested`);
    const reasons: string[] = [];
    for (const asked of requested) {
      // "cpu" here is ORT-web's CPU provider, i.e. WASM
      const p: ExecutionProvider = asked === "cpu" ? "wasm" : asked;
      const why = this.unavailable(p);
      if (why) {
        reasons.push(`${asked}: ${why}`);
        continue;
      }
      const options: OrtWeb.InferenceSession.SessionOptions = {
        executionProviders: [p],
        graphOptimizationLevel: opts.optimization ?? "all",
        logSeverityLevel: LOG_SEVERITY[this.opts.logLevel ?? "error"],
      };
      if (externalData?.length) options.externalData = externalData;
      if (p === "webgpu" && opts.keepOnDevice?.length) {
        options.preferredOutputLocation = Object.fromEntries(
          opts.keepOnDevice.map((n) => [n, "gpu-buffer" as const]),
        );
      }
      let session: OrtSession;
      try {
        session = await ort.InferenceSession.create(model, options);
      } catch (e) {
        reasons.push(`${asked}: ${errorMessage(e)}`);
        continue;
      }
      const unknown = (opts.keepOnDevice ?? []).filter((n) => !session.outputNames.includes(n));
      if (unknown.length) {
        await session.release();
        throw new Error(`model '${name}': keepOnDevice names unknown outputs ${unknown.join(", ")}`);
      }
      const s = new WebSessionImpl(
        this,
        ort,
        session,
        name,
        p,
        reasons.length ? reasons.join("; ") : undefined,
      );
      this.sessions.add(s);
      return s;
    }
    throw new Error(`cannot load model '${name}' (${reasons.join("; ")})`);
  }

  async close(): Promise<void> {
    for (const s of [...this.sessions]) await s.release();
  }
}

/** An onnxruntime-web backend (WebGPU, then WASM by default). */
export function createWebBackend(opts: WebBackendOptions = {}): WebBackend {
  return new WebBackendImpl(opts);
}
