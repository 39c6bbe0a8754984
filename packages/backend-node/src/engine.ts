// The ONNX Runtime side: owns sessions and values kept on the device. Runs inside the worker thread
// (worker mode) or in the caller's thread (in-thread mode); the caller's side lives in backend.ts.
import { existsSync } from "node:fs";
import {
  deviceOutputDType,
  type ExecutionProvider,
  fromOrtData,
  loadWithFallback,
  ortSessionOptions,
  runFailed,
  valueInfo,
} from "@flowturbo/core";
import { type DType, Graph, op, toOnnx } from "@flowturbo/tensor";
import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import ort from "onnxruntime-node";
import { cudaProviderLibrary } from "./paths";
import { freshCopy } from "./protocol";
import type { EngineLoadOptions, LoadResult, Request, WireFeed, WireOutput, WireTensor } from "./protocol";

export function toOrtTensor(t: WireTensor): OrtTensor {
  // float16 travels as Uint16Array bits, bool as Uint8Array, int64 as BigInt64Array: ORT's own storage.
  return new ort.Tensor(t.dtype as "float32", t.data as Float32Array, t.shape);
}

/** Converts an ORT CPU tensor to the wire form (the typed array is shared, not copied). */
export function fromOrtTensor(t: OrtTensor, what: string): WireTensor {
  return fromOrtData(t, t.data, what);
}

interface SessionEntry {
  session: InferenceSession;
  name: string;
  provider: ExecutionProvider;
  keep: ReadonlySet<string>;
  values: Set<number>;
}

interface ValueEntry {
  tensor: OrtTensor;
  session: number;
}

export interface EngineOptions {
  /**
   * Keep `keepOnDevice` outputs of non-WebGPU sessions in this thread's memory as handles (worker mode:
   * they need not cross the thread boundary). In-thread mode returns them as host tensors instead.
   */
  keepHostOutputs: boolean;
}

/** What to do when Dawn finds no adapter: it needs a Vulkan driver (SwiftShader's works without a GPU). */
export function webgpuHint(message: string): string {
  if (!/No supported adapters|Failed to get a WebGPU adapter/i.test(message)) return "";
  return " [WebGPU in Node runs on Vulkan: install your GPU's Vulkan driver, or without a GPU use Chromium's SwiftShader: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium (apt-get install chromium; slow, for testing)]";
}
export class Engine {
  private readonly sessions = new Map<number, SessionEntry>();
  private readonly values = new Map<number, ValueEntry>();
  /** Identity models on WebGPU, by dtype and rank, that copy gpu-buffer values to the host. */
  private readonly downloaders = new Map<string, Promise<InferenceSession>>();
  private nextId = 1;

  constructor(private readonly opts: EngineOptions) {}

  /** Dispatches one request; returns the result (every typed array in it is owned by the result). */
  async handle(req: Request): Promise<unknown> {
    switch (req.op) {
      case "providers":
        return this.providers();
      case "load":
        return this.load(req.model, req.options);
      case "run":
        return this.run(req.session, req.feeds, req.outputs);
      case "release":
        return this.release(req.session);
      case "download":
        return this.download(req.handle);
      case "dispose":
        return this.dispose(req.handle);
      case "close":
        return this.close();
    }
  }

  providers(): ExecutionProvider[] {
    const out: ExecutionProvider[] = ["cpu"];
    const listed = new Set(ort.listSupportedBackends().map((b) => b.name));
    if (listed.has("webgpu")) out.push("webgpu");
    const cuda = cudaProviderLibrary();
    if (listed.has("cuda") && cuda && existsSync(cuda)) out.push("cuda");
    return out;
  }

  /** Why a provider cannot even be tried here, or undefined. */
  private unavailable(p: ExecutionProvider): string | undefined {
    const listed = new Set(ort.listSupportedBackends().map((b) => b.name));
    if (p === "wasm") return "not an onnxruntime-node provider (use @flowturbo/backend-web)";
    if (p === "cpu") return undefined;
    if (!listed.has(p)) return `not built into onnxruntime-node for ${process.platform}/${process.arch}`;
    if (p === "cuda") {
      const lib = cudaProviderLibrary();
      if (!lib) return `no CUDA provider for ${process.platform}`;
      if (!existsSync(lib)) {
        return `the CUDA provider library ${lib} is not installed (run onnxruntime-node's install script with ONNXRUNTIME_NODE_INSTALL=cuda12: see the @flowturbo/backend-node README)`;
      }
    }
    return undefined;
  }

  private sessionOptions(p: ExecutionProvider, o: EngineLoadOptions): InferenceSession.SessionOptions {
    const opts: InferenceSession.SessionOptions = {
      executionProviders: [p === "cuda" ? { name: "cuda", deviceId: 0 } : p],
      executionMode: "sequential",
      ...ortSessionOptions(p, o),
    };
    if (o.threads !== undefined) opts.intraOpNumThreads = o.threads;
    return opts;
  }

  async load(model: Uint8Array | string, o: EngineLoadOptions): Promise<LoadResult> {
    const { session, provider, fallbackReason } = await loadWithFallback({
      name: o.name,
      providers: o.providers,
      keepOnDevice: o.keepOnDevice,
      unavailable: (p) => this.unavailable(p),
      create: (p) =>
        typeof model === "string"
          ? ort.InferenceSession.create(model, this.sessionOptions(p, o))
          : ort.InferenceSession.create(model, this.sessionOptions(p, o)),
      hint: (p, message) => (p === "webgpu" ? webgpuHint(message) : ""),
    });
    const id = this.nextId++;
    this.sessions.set(id, {
      session,
      name: o.name,
      provider,
      keep: new Set(o.keepOnDevice ?? []),
      values: new Set(),
    });
    return {
      id,
      provider,
      fallbackReason,
      inputs: valueInfo(session.inputMetadata),
      outputs: valueInfo(session.outputMetadata),
    };
  }

  private entry(id: number): SessionEntry {
    const s = this.sessions.get(id);
    if (!s) throw new Error(`session ${id} was released`);
    return s;
  }

  private value(handle: number): ValueEntry {
    const v = this.values.get(handle);
    if (!v) throw new Error(`device tensor ${handle} was disposed (or its session released)`);
    return v;
  }

  async run(
    id: number,
    feeds: Record<string, WireFeed>,
    outputs?: string[],
  ): Promise<Record<string, WireOutput>> {
    const s = this.entry(id);
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      if (f.kind === "host") {
        ortFeeds[name] = toOrtTensor(f.tensor);
      } else {
        const v = this.value(f.handle);
        // A WebGPU buffer fed to a non-WebGPU session is copied to the host first.
        ortFeeds[name] =
          v.tensor.location === "gpu-buffer" && s.provider !== "webgpu"
            ? toOrtTensor(await this.downloadGpu(v.tensor))
            : v.tensor;
      }
    }
    let result: InferenceSession.OnnxValueMapType;
    try {
      result = await s.session.run(ortFeeds, outputs ?? s.session.outputNames);
    } catch (e) {
      throw runFailed(s.name, s.provider, e);
    }
    const out: Record<string, WireOutput> = {};
    for (const [name, value] of Object.entries(result)) {
      const t = value as OrtTensor;
      const onGpu = t.location === "gpu-buffer";
      if (onGpu || (this.opts.keepHostOutputs && s.keep.has(name))) {
        const dtype = deviceOutputDType(t, s.name, name);
        const handle = this.nextId++;
        this.values.set(handle, { tensor: t, session: id });
        s.values.add(handle);
        out[name] = {
          kind: "handle",
          handle,
          dtype,
          shape: [...t.dims],
          location: onGpu ? "gpu-buffer" : "worker",
        };
      } else {
        out[name] = { kind: "host", tensor: fromOrtTensor(t, `model '${s.name}': output '${name}'`) };
      }
    }
    return out;
  }

  /** Copies a gpu-buffer tensor to the host through an Identity model on the WebGPU provider. */
  private async downloadGpu(t: OrtTensor): Promise<WireTensor> {
    // onnxruntime-node 1.30's Tensor.getData() on a gpu-buffer output aborts the process; running a
    // gpu-buffer input through a session whose output lives on the CPU is the working path.
    const key = `${t.type}:${t.dims.length}`;
    let pending = this.downloaders.get(key);
    if (!pending) {
      const g = new Graph(`download_${t.type}_${t.dims.length}`);
      const axes = Object.fromEntries(t.dims.map((_, i) => [i, `d${i}`]));
      const x = g.input(
        "x",
        t.type as DType,
        t.dims.map(() => 1),
        axes,
      );
      g.output("y", op.identity(x), axes);
      pending = ort.InferenceSession.create(toOnnx(g), {
        executionProviders: ["webgpu"],
        logSeverityLevel: 3,
      });
      this.downloaders.set(key, pending);
    }
    const session = await pending;
    const y = (await session.run({ x: t })).y as OrtTensor;
    return fromOrtTensor(y, "device tensor");
  }

  async download(handle: number): Promise<WireTensor> {
    const v = this.value(handle);
    if (v.tensor.location === "gpu-buffer") return this.downloadGpu(v.tensor);
    const t = fromOrtTensor(v.tensor, "device tensor");
    // the value stays alive here: hand out a copy
    return { ...t, data: freshCopy(t.data) };
  }

  dispose(handle: number): void {
    const v = this.values.get(handle);
    if (!v) return;
    this.values.delete(handle);
    this.sessions.get(v.session)?.values.delete(handle);
    if (v.tensor.location === "gpu-buffer") v.tensor.dispose();
  }

  async release(id: number): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    for (const h of [...s.values]) this.dispose(h);
    this.sessions.delete(id);
    await s.session.release();
  }

  async close(): Promise<void> {
    for (const id of [...this.sessions.keys()]) await this.release(id);
    for (const pending of this.downloaders.values()) {
      try {
        await (await pending).release();
      } catch {
        // a downloader that failed to load has nothing to release
      }
    }
    this.downloaders.clear();
  }
}
