// The generation worker: loads the model (download + cache), opens ONNX Runtime Web sessions (WebGPU,
// WASM fallback) and samples through @flowturbo/pipeline's FlowTurboPipeline off the main thread, posting
// progress, previews and results.
import { createWebBackend, type WebBackend } from "@flowturbo/backend-web";
import type { ExecutionProvider } from "@flowturbo/core";
import { FlowTurboPipeline, parseMethod } from "@flowturbo/pipeline";
import type { VaeDecoder } from "@flowturbo/vae";
import { loadModels } from "./loadModels";
import type { BackendChoice, FromWorker, ModelChoice, ToWorker, WebGpuStatus } from "./protocol";
import { pipelineOptions, wasmThreads } from "./sessionSettings";
import { detectWebGpu } from "./webgpu";

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
};

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

/** ORT's .mjs/.wasm files are served under ort/ next to the app root (see vite.config.ts); this module is one level down (src/ in dev, assets/ in a build). */
const WASM_PATHS = new URL(/* @vite-ignore */ "../ort/", import.meta.url).href;

let backend: WebBackend | undefined;
let pipeline: FlowTurboPipeline | undefined;
let vae: VaeDecoder | undefined;
const running = new Map<number, AbortController>();
/** Loads and generations run one at a time, in order. */
let queue: Promise<void> = Promise.resolve();

function providersFor(choice: BackendChoice, gpu: WebGpuStatus): ExecutionProvider[] {
  if (choice === "wasm") return ["wasm"];
  if (choice === "webgpu") {
    if (!gpu.available) throw new Error(`WebGPU was requested but is not available: ${gpu.reason}`);
    return ["webgpu"];
  }
  return gpu.available ? ["webgpu", "wasm"] : ["wasm"];
}

/** The ONNX Runtime Web backend: ORT's files under ort/, threaded WASM where the page allows it. */
function webBackend(): WebBackend {
  // threaded WASM needs SharedArrayBuffer, i.e. a cross-origin isolated page
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return createWebBackend({
    wasmPaths: WASM_PATHS,
    threads: wasmThreads(isolated, navigator.hardwareConcurrency || 1),
  });
}

async function load(model: ModelChoice, choice: BackendChoice): Promise<void> {
  await pipeline?.release();
  await vae?.release();
  pipeline = undefined;
  vae = undefined;
  const gpu = await detectWebGpu(choice);
  const providers = providersFor(choice, gpu);
  backend ??= webBackend();
  // ONNX Runtime starts (WASM download, compile, threads; WebGPU device) while the model is read;
  // only the first provider's: the fallback's runtime starts if it is ever needed
  const started = backend.prepare(providers.slice(0, 1));
  const models = await loadModels(backend, model, providers, (p) => post({ type: "download", ...p }));
  await started;
  vae = models.vae;
  const base = models.base;
  const refiner = models.refiner;
  let parameters = 0;
  for (const t of base.weights.values()) parameters += t.size;
  pipeline = await FlowTurboPipeline.open(backend, models, pipelineOptions(providers, parameters));
  post({
    type: "loaded",
    model: {
      file: base.file,
      numClasses: base.config.numClasses,
      classNames: pipeline.classNames ? [...pipeline.classNames] : undefined,
      recommendedCfg: pipeline.defaults.cfg,
      shape: [base.config.keepChannels, base.config.inputSize, base.config.inputSize],
      hasRefiner: refiner !== undefined,
      hasVae: vae !== undefined,
      parameters,
    },
    webgpu: gpu,
    providers,
  });
}

async function generate(id: number, request: Extract<ToWorker, { type: "generate" }>["request"]) {
  const pl = pipeline;
  if (!pl) throw new Error("no model loaded");
  const abort = new AbortController();
  running.set(id, abort);
  try {
    const n = request.labels.length;
    const params = { ...request, method: parseMethod(request.method) };
    const problems = pl.check(params);
    if (problems.length) throw new Error(problems.map((q) => q.message).join("; "));
    const g = await pl.generate(params, {
      signal: abort.signal,
      beforeRun: async () => {
        await yieldToEventLoop();
        abort.signal.throwIfAborted();
      },
      onProgress: (p) => {
        let preview: { data: Float32Array; shape: number[] } | undefined;
        if (request.preview && p.x) {
          const shape = pl.config;
          const per = shape.keepChannels * shape.inputSize * shape.inputSize;
          const rows = Math.min(Math.floor(p.x.length / per), n - p.done);
          // guided batches are [cond; uncond]: the first rows are the samples
          preview = {
            data: p.x.slice(0, rows * per),
            shape: [rows, shape.keepChannels, shape.inputSize, shape.inputSize],
          };
        }
        post(
          {
            type: "progress",
            id,
            done: p.done,
            total: p.total,
            step: p.step,
            t: p.t,
            nfe: p.nfe,
            stage: p.stage,
            preview,
          },
          preview ? [preview.data.buffer] : [],
        );
      },
    });
    const images = (g.images ?? g.latents).toFloat32().slice();
    post(
      {
        type: "result",
        id,
        images,
        shape: [...(g.images ?? g.latents).shape],
        labels: g.labels,
        nfe: g.nfe,
        timings: g.timings,
        provider: g.provider,
        fallbackReason: g.fallbackReason,
        compile: g.compile,
        transfers: g.transfers,
      },
      [images.buffer],
    );
  } finally {
    running.delete(id);
  }
}

/** Lets queued messages (a cancel) run: a MessageChannel task, without setTimeout's 4 ms clamp. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(0);
  });
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === "AbortError" || /abort/i.test(e.message));
}

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "cancel") {
    running.get(msg.id)?.abort();
    return;
  }
  queue = queue.then(async () => {
    if (msg.type === "load") {
      try {
        await load(msg.model, msg.backend);
      } catch (err) {
        post({ type: "error", stage: "load", message: (err as Error).message });
      }
    } else {
      try {
        await generate(msg.id, msg.request);
      } catch (err) {
        if (isAbort(err)) post({ type: "cancelled", id: msg.id });
        else post({ type: "error", id: msg.id, stage: "generate", message: (err as Error).message });
      }
    }
  });
};
