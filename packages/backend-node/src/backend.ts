// The caller's side of the Node backend: model sources, feed validation, tensors in and out.
import { existsSync } from "node:fs";
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
  graphSourceOnnx,
  isDeviceTensor,
  type LogLevel,
  modelSourceName,
  ORT_DTYPES,
  ortGraphForm,
  shapeString,
} from "@flowturbo/core";
import { type DType, type GraphForm, Tensor, type TypedArray } from "@flowturbo/tensor";
import {
  freshCopy,
  type LoadResult,
  transferable,
  type ValueInfo,
  type WireFeed,
  type WireHandle,
  type WireOutput,
  type WireTensor,
} from "./protocol";
import { InThreadTransport, type Transport, WorkerTransport } from "./transport";

export type { LogLevel } from "@flowturbo/core";
export type { ValueInfo } from "./protocol";

export interface NodeBackendOptions {
  /**
   * Run sessions in a worker thread (default true) so that the caller's event loop stays responsive;
   * false runs them in the caller's thread (onnxruntime-node then blocks it for the length of each run).
   */
  worker?: boolean;
  /**
   * Default intra-op thread count of sessions (SessionOptions.threads overrides it). Unset: the
   * FLOWTURBO_ORT_THREADS environment variable if set (the test suites set 1), else ORT's default (one per core).
   */
  threads?: number;
  /** Default provider preference when SessionOptions.providers is not given. Default ["cpu"]. */
  providers?: readonly ExecutionProvider[];
  /** ONNX Runtime log level of sessions. Default "error". */
  logLevel?: LogLevel;
}

/** A session of this backend (see OrtAdapterSession in @flowturbo/core). */
export interface NodeSession extends OrtAdapterSession {}

export interface NodeBackend extends Backend {
  readonly name: "onnxruntime-node";
  readonly graphForm: "fused";
  readonly mode: "worker" | "in-thread";
  load(source: ModelSource, opts?: SessionOptions): Promise<NodeSession>;
  /** Releases every session and stops the worker. The backend cannot be used afterwards. */
  close(): Promise<void>;
}

/** A value kept where the session runs: a WebGPU buffer ("gpu-buffer") or the worker's memory ("worker"). */
class NodeDeviceTensor implements DeviceTensor {
  readonly kind = "device";
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly location: string;
  readonly handle: number;
  private disposed = false;

  constructor(
    readonly owner: NodeBackendImpl,
    readonly generation: number,
    h: WireHandle,
  ) {
    this.handle = h.handle;
    this.dtype = h.dtype;
    this.shape = Object.freeze([...h.shape]);
    this.location = h.location;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  async download(): Promise<Tensor> {
    if (this.disposed) throw new Error(`device tensor ${this.dtype}${shapeString(this.shape)} was disposed`);
    this.owner.checkGeneration(this.generation, "device tensor");
    const t = await this.owner.transport.request<WireTensor>({ op: "download", handle: this.handle });
    return new Tensor(t.dtype, t.shape, t.data);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.generation === this.owner.transport.generation) {
      this.owner.transport.request({ op: "dispose", handle: this.handle }).catch(() => {});
    }
  }

  markReleased(): void {
    this.disposed = true;
  }
}

class NodeSessionImpl implements NodeSession {
  readonly provider: ExecutionProvider;
  readonly fallbackReason: string | undefined;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputInfo: readonly ValueInfo[];
  readonly outputInfo: readonly ValueInfo[];
  private released = false;
  private readonly deviceValues = new Set<NodeDeviceTensor>();

  constructor(
    private readonly backend: NodeBackendImpl,
    private readonly id: number,
    private readonly generation: number,
    readonly name: string,
    r: LoadResult,
  ) {
    this.provider = r.provider;
    this.fallbackReason = r.fallbackReason;
    this.inputInfo = r.inputs;
    this.outputInfo = r.outputs;
    this.inputNames = r.inputs.map((i) => i.name);
    this.outputNames = r.outputs.map((o) => o.name);
  }

  private check(feeds: Record<string, RunValue>, outputs?: readonly string[]): void {
    checkFeeds(this.name, this.inputInfo, this.outputNames, feeds, outputs);
  }

  async run(feeds: Record<string, RunValue>, outputs?: readonly string[]): Promise<Record<string, RunValue>> {
    if (this.released) throw new Error(`model '${this.name}': session was released`);
    this.backend.checkGeneration(this.generation, `model '${this.name}'`);
    this.check(feeds, outputs);
    const wire: Record<string, WireFeed> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, v] of Object.entries(feeds)) {
      if (
        v instanceof NodeDeviceTensor &&
        v.owner === this.backend &&
        !v.isDisposed &&
        v.generation === this.generation
      ) {
        wire[name] = { kind: "handle", handle: v.handle };
        continue;
      }
      const host = isDeviceTensor(v) ? await v.download() : v;
      if (!ORT_DTYPES.has(host.dtype))
        throw new Error(`model '${this.name}': input '${name}' has dtype ${host.dtype}`);
      const t: WireTensor = { dtype: host.dtype, shape: [...host.shape], data: host.data as TypedArray };
      if (this.backend.transport.mode === "worker") {
        // one copy of the caller's data (theirs stays intact), moved to the worker without a second copy
        const data = freshCopy(t.data);
        wire[name] = { kind: "host", tensor: { ...t, data } };
        transfer.push(data.buffer as ArrayBuffer);
      } else {
        wire[name] = { kind: "host", tensor: t };
      }
    }
    const out = await this.backend.transport.request<Record<string, WireOutput>>(
      { op: "run", session: this.id, feeds: wire, outputs: outputs ? [...outputs] : undefined },
      transfer,
    );
    const result: Record<string, RunValue> = {};
    for (const [name, o] of Object.entries(out)) {
      if (o.kind === "host") {
        result[name] = new Tensor(o.tensor.dtype, o.tensor.shape, o.tensor.data);
      } else {
        const d = new NodeDeviceTensor(this.backend, this.generation, o);
        this.deviceValues.add(d);
        result[name] = d;
      }
    }
    return result;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // the worker disposes this session's device values with it
    for (const d of this.deviceValues) d.markReleased();
    this.deviceValues.clear();
    this.backend.forget(this);
    if (this.generation === this.backend.transport.generation) {
      await this.backend.transport.request({ op: "release", session: this.id });
    }
  }
}

class NodeBackendImpl implements NodeBackend {
  readonly name = "onnxruntime-node";
  /** ONNX Runtime implements the contrib ops of the fused form on every provider used here... */
  readonly graphForm = "fused";
  /** ...but its WebGPU MultiHeadAttention is wrong from 32 tokens on: plain there (ortGraphForm). */
  graphFormOn(provider: ExecutionProvider): GraphForm {
    return ortGraphForm(provider);
  }
  readonly transport: Transport;
  private readonly sessions = new Set<NodeSessionImpl>();

  constructor(private readonly opts: NodeBackendOptions) {
    this.transport = opts.worker === false ? new InThreadTransport() : new WorkerTransport();
  }

  get mode(): "worker" | "in-thread" {
    return this.transport.mode;
  }

  checkGeneration(generation: number, what: string): void {
    if (generation !== this.transport.generation) {
      throw new Error(`${what}: lost when the ONNX Runtime worker exited; load the model again`);
    }
  }

  forget(s: NodeSessionImpl): void {
    this.sessions.delete(s);
  }

  providers(): Promise<ExecutionProvider[]> {
    return this.transport.request<ExecutionProvider[]>({ op: "providers" });
  }

  async load(source: ModelSource, opts: SessionOptions = {}): Promise<NodeSession> {
    const name = modelSourceName(source);
    let model: Uint8Array | string;
    if (typeof source === "string") {
      if (!existsSync(source)) throw new Error(`model file not found: ${source}`);
      model = source;
    } else if (source instanceof Uint8Array) {
      model = source;
    } else {
      model = graphSourceOnnx(name, source, opts.keepOnDevice);
    }
    const transfer: ArrayBuffer[] = [];
    if (typeof model !== "string" && this.transport.mode === "worker") {
      // emitted bytes are ours to move; caller's bytes are copied once
      const own = model === source ? freshCopy(model) : model;
      const moved = transferable({ dtype: "uint8", shape: [own.length], data: own });
      model = moved.tensor.data as Uint8Array;
      transfer.push(...moved.transfer);
    }
    const providers = [...(opts.providers ?? this.opts.providers ?? ["cpu"])];
    const r = await this.transport.request<LoadResult>(
      {
        op: "load",
        model,
        options: {
          name,
          providers,
          threads: opts.threads ?? this.opts.threads,
          keepOnDevice: opts.keepOnDevice ? [...opts.keepOnDevice] : undefined,
          optimization: opts.optimization,
          logLevel: this.opts.logLevel,
        },
      },
      transfer,
    );
    // read after the reply: the request may have (re)started the worker
    const s = new NodeSessionImpl(this, r.id, this.transport.generation, name, r);
    this.sessions.add(s);
    return s;
  }

  async close(): Promise<void> {
    for (const s of [...this.sessions]) await s.release().catch(() => {});
    await this.transport.close();
  }
}

/** FLOWTURBO_ORT_THREADS as a thread count; a value that is not a positive integer is an error, not ignored. */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.FLOWTURBO_ORT_THREADS;
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`FLOWTURBO_ORT_THREADS must be a positive integer, got '${v}'`);
  return n;
}

/** An ONNX Runtime (onnxruntime-node) backend: CPU, CUDA and WebGPU (Dawn) providers. */
export function createNodeBackend(opts: NodeBackendOptions = {}): NodeBackend {
  return new NodeBackendImpl({ ...opts, threads: opts.threads ?? threadsFromEnv() });
}
