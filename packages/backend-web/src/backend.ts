// The onnxruntime-web backend: WebGPU (the native WebGPU build, `onnxruntime-web/webgpu`) with WASM
// fallback. Works in browsers, Web Workers and Node (WASM); uses no DOM and no Node modules.
import type {
  Backend,
  DeviceTensor,
  ExecutionProvider,
  ModelSource,
  OrtAdapterSession,
  RunValue,
  SessionOptions,
} from "@flowturbo/core";
import {
  checkFeeds,
  deviceOutputDType,
  errorMessage,
  fromOrtData,
  graphSourceOnnx,
  isDeviceTensor,
  type LogLevel,
  loadWithFallback,
  modelSourceName,
  ortGraphForm,
  ortSessionOptions,
  runFailed,
  shapeString,
  type ValueInfo,
  valueInfo,
} from "@flowturbo/core";
import {
  type DType,
  decodeModel,
  Graph,
  type GraphForm,
  OnnxDataLocation,
  op,
  Tensor,
} from "@flowturbo/tensor";
import type * as OrtWeb from "onnxruntime-web/webgpu";

/** An onnxruntime-web module: `onnxruntime-web/webgpu` by default; any build of the same version fits. */
export type OrtModule = typeof OrtWeb;
type OrtTensor = OrtWeb.Tensor;
type OrtSession = OrtWeb.InferenceSession;

export type { LogLevel, ValueInfo } from "@flowturbo/core";

/** The onnxruntime-web module of each provider (a provider left out gets the default one). */
export interface OrtModules {
  webgpu?: OrtModule | Promise<OrtModule>;
  wasm?: OrtModule | Promise<OrtModule>;
}

export interface WebBackendOptions {
  /**
   * The onnxruntime-web module(s): one for every provider, or one per provider ({ webgpu, wasm }).
   * Default in browsers and workers: `onnxruntime-web/webgpu` (the native WebGPU build) for WebGPU
   * sessions and `onnxruntime-web/wasm` (the WASM-only build) for WASM sessions: the WebGPU build's WASM
   * is an asyncify build, about 2x slower and twice the download. Under Node: `onnxruntime-web`'s Node
   * build (WASM only). Device tensors move between sessions of one module only.
   */
  ort?: OrtModule | Promise<OrtModule> | OrtModules;
  /** Where ORT finds its .wasm/.mjs files (`ort.env.wasm.wasmPaths`), e.g. "/ort/". Default: next to ORT's own module. */
  wasmPaths?: string;
  /** WASM threads (`ort.env.wasm.numThreads`: global, fixed once ORT initialised; threads need cross-origin isolation in browsers). */
  threads?: number;
  /** Default provider preference when SessionOptions.providers is not given. Default ["webgpu", "wasm"]. */
  providers?: readonly ExecutionProvider[];
  /** ONNX Runtime log level. Default "error". */
  logLevel?: LogLevel;
  /**
   * WASM sessions: let ORT's intra-op threads spin while waiting for work (ORT's default, true) or sleep
   * (false: less CPU burnt on a machine whose cores are busy with other work).
   */
  wasmSpinning?: boolean;
}

/** A session of this backend (see OrtAdapterSession in @flowturbo/core). */
export interface WebSession extends OrtAdapterSession {}

export interface WebBackend extends Backend {
  readonly name: "onnxruntime-web";
  readonly graphForm: "fused";
  load(source: ModelSource, opts?: SessionOptions): Promise<WebSession>;
  /** The onnxruntime-web module of a provider (default: the first of providers()). */
  ort(provider?: "webgpu" | "wasm"): Promise<OrtModule>;
  /**
   * Starts the runtime of these providers (default: the backend's) before the first load, by opening and
   * releasing a one-node session on each: ORT's WASM module is fetched, compiled and its threads started,
   * WebGPU gets its device. An app can overlap this with reading its model. Never rejects (load reports
   * what fails).
   */
  prepare(providers?: readonly ExecutionProvider[]): Promise<void>;
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
  const h = fromOrtData(t, data, what);
  return new Tensor(h.dtype, h.shape, h.data);
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
    /** The ORT module whose session made it: only that module's sessions take it as is. */
    readonly module: OrtModule,
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
    this.inputInfo = valueInfo(session.inputMetadata);
    this.outputInfo = valueInfo(session.outputMetadata);
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
        v.module === this.ort &&
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
      throw runFailed(this.name, this.provider, e);
    }
    const out: Record<string, RunValue> = {};
    for (const [name, value] of Object.entries(result)) {
      const t = value as OrtTensor;
      if (t.location === "cpu" || t.location === "cpu-pinned") {
        out[name] = fromOrt(t, t.data, `model '${this.name}': output '${name}'`);
      } else {
        deviceOutputDType(t, this.name, name);
        const d = new WebDeviceTensor(this.backend, this.ort, t);
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

/** A module or a per-provider map of modules? (A module has InferenceSession; a promise is a module.) */
function isModuleMap(o: WebBackendOptions["ort"]): o is OrtModules {
  return o !== undefined && !(o instanceof Promise) && !("InferenceSession" in o);
}

class WebBackendImpl implements WebBackend {
  readonly name = "onnxruntime-web";
  /** ONNX Runtime implements the contrib ops of the fused form on every provider used here... */
  readonly graphForm = "fused";
  /** ...but its WebGPU MultiHeadAttention is wrong from 32 tokens on: plain there (ortGraphForm). */
  graphFormOn(provider: ExecutionProvider): GraphForm {
    return ortGraphForm(provider);
  }
  private readonly modules = new Map<"webgpu" | "wasm", Promise<OrtModule>>();
  /** Each module configured once (the same module may serve both providers). */
  private readonly configured = new WeakMap<OrtModule, true>();
  private readonly sessions = new Set<WebSessionImpl>();

  constructor(private readonly opts: WebBackendOptions) {}

  private importModule(provider: "webgpu" | "wasm"): Promise<OrtModule> | OrtModule {
    const o = this.opts.ort;
    if (o !== undefined && !isModuleMap(o)) return o;
    const chosen = isModuleMap(o) ? o[provider] : undefined;
    if (chosen !== undefined) return chosen;
    if (isNode()) return import(/* @vite-ignore */ NODE_BUILD) as Promise<OrtModule>;
    return provider === "webgpu"
      ? import("onnxruntime-web/webgpu")
      : (import("onnxruntime-web/wasm") as Promise<OrtModule>);
  }

  ort(provider: "webgpu" | "wasm" = hasWebGpu() ? "webgpu" : "wasm"): Promise<OrtModule> {
    let m = this.modules.get(provider);
    if (!m) {
      m = (async () => {
        const ort = await this.importModule(provider);
        if (!this.configured.has(ort)) {
          this.configured.set(ort, true);
          const env = ort.env;
          if (this.opts.wasmPaths !== undefined) env.wasm.wasmPaths = this.opts.wasmPaths;
          if (this.opts.threads !== undefined) env.wasm.numThreads = this.opts.threads;
          env.logLevel = this.opts.logLevel ?? "error";
        }
        return ort;
      })();
      this.modules.set(provider, m);
    }
    return m;
  }

  forget(s: WebSessionImpl): void {
    this.sessions.delete(s);
  }

  async providers(): Promise<ExecutionProvider[]> {
    await this.ort();
    return hasWebGpu() ? ["webgpu", "wasm"] : ["wasm"];
  }

  /** Session options of a provider beyond the shared ones (ortSessionOptions). */
  private providerOptions(p: ExecutionProvider): Partial<OrtWeb.InferenceSession.SessionOptions> {
    if (p !== "wasm" || this.opts.wasmSpinning === undefined) return {};
    return { extra: { session: { intra_op: { allow_spinning: this.opts.wasmSpinning ? "1" : "0" } } } };
  }

  private unavailable(p: ExecutionProvider): string | undefined {
    if (p === "cuda") return "not an onnxruntime-web provider (use @flowturbo/backend-node)";
    if (p === "webgpu" && !hasWebGpu()) return "navigator.gpu is not available here";
    return undefined;
  }

  async load(source: ModelSource, opts: SessionOptions = {}): Promise<WebSession> {
    const name = modelSourceName(source);
    let model: Uint8Array;
    let externalData: ExternalFile[] | undefined;
    if (typeof source === "string") {
      ({ bytes: model, externalData } = await fetchModel(source));
    } else if (source instanceof Uint8Array) {
      model = source;
    } else {
      model = graphSourceOnnx(name, source, opts.keepOnDevice);
    }
    // "cpu" here is ORT-web's CPU provider, i.e. WASM
    const wasmIfCpu = (p: ExecutionProvider): ExecutionProvider => (p === "cpu" ? "wasm" : p);
    const modules = new Map<ExecutionProvider, OrtModule>();
    const { session, provider, fallbackReason } = await loadWithFallback({
      name,
      providers: opts.providers ?? this.opts.providers ?? ["webgpu", "wasm"],
      keepOnDevice: opts.keepOnDevice,
      unavailable: (asked) => this.unavailable(wasmIfCpu(asked)),
      create: async (asked) => {
        const p = wasmIfCpu(asked);
        const ort = await this.ort(p === "webgpu" ? "webgpu" : "wasm");
        modules.set(p, ort);
        const options: OrtWeb.InferenceSession.SessionOptions = {
          executionProviders: [p],
          ...ortSessionOptions(p, { ...opts, logLevel: this.opts.logLevel }),
          ...this.providerOptions(p),
        };
        if (externalData?.length) options.externalData = externalData;
        return ort.InferenceSession.create(model, options);
      },
    });
    const used = wasmIfCpu(provider);
    const s = new WebSessionImpl(this, modules.get(used)!, session, name, used, fallbackReason);
    this.sessions.add(s);
    return s;
  }

  async prepare(providers?: readonly ExecutionProvider[]): Promise<void> {
    const g = new Graph("flowturbo_prepare");
    g.output("y", op.identity(g.input("x", "float32", [1])));
    for (const p of providers ?? this.opts.providers ?? (await this.providers())) {
      try {
        const s = await this.load({ graph: g }, { providers: [p] });
        await s.release();
      } catch {
        // the provider cannot start here: load() says why when it is used
      }
    }
  }

  async close(): Promise<void> {
    for (const s of [...this.sessions]) await s.release();
  }
}

/** An onnxruntime-web backend (WebGPU, then WASM by default). */
export function createWebBackend(opts: WebBackendOptions = {}): WebBackend {
  return new WebBackendImpl(opts);
}
