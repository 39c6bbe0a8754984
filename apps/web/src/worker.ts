// The generation worker: loads the model (download + cache), opens ONNX Runtime Web sessions (WebGPU,
// WASM fallback) and samples through @flowturbo/pipeline's FlowTurboPipeline off the main thread, posting
// progress, previews and results.
import { createWebBackend, type WebBackend } from "@flowturbo/backend-web";
import type { ExecutionProvider, LogLevel } from "@flowturbo/core";
import {
  FlowTurboPipeline,
  INTERACTIVE_LIMITS,
  methodLabel,
  parseMethod,
  type SampleProgress,
} from "@flowturbo/pipeline";
import type { VaeDecoder } from "@flowturbo/vae";
import { keepsAhead, warmUpRequest } from "./compileAhead";
import { loadModels } from "./loadModels";
import type {
  BackendChoice,
  FromWorker,
  GenerateRequest,
  ModelChoice,
  ToWorker,
  WasmThreads,
  WebGpuStatus,
} from "./protocol";
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
/** The file of the model in use (a failed load keeps it and says so). */
let current: string | undefined;
let threads: WasmThreads = { count: 1, isolated: false };
/** Loads and generations not finished yet (queued or running), by id: what a cancel aborts. */
const running = new Map<number, AbortController>();
/** When a cancel reached this worker, by id (its clock, as progress messages' `at`). */
const cancelSeen = new Map<number, number>();
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

/**
 * Loads a model; the model in use stays until the new one is ready (a failed or cancelled load keeps it).
 * `signal` stops the downloads.
 */
async function load(
  id: number,
  model: ModelChoice,
  choice: BackendChoice,
  signal: AbortSignal,
  ortLog?: LogLevel,
): Promise<void> {
  const gpu = await detectWebGpu(choice);
  const providers = providersFor(choice, gpu);
  if (!backend) {
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    // threaded WASM needs SharedArrayBuffer, i.e. a cross-origin isolated page
    threads = { count: wasmThreads(isolated, navigator.hardwareConcurrency || 1), isolated };
    backend = createWebBackend({ wasmPaths: WASM_PATHS, threads: threads.count, logLevel: ortLog });
  }
  // ONNX Runtime starts (WASM download, compile, threads; WebGPU device) while the model is read;
  // only the first provider's: the fallback's runtime starts if it is ever needed
  const started = backend.prepare(providers.slice(0, 1));
  const models = await loadModels(
    backend,
    model,
    providers,
    (p) => post({ type: "download", id, ...p }),
    signal,
  );
  await started;
  const base = models.base;
  const refiner = models.refiner;
  let parameters = 0;
  for (const t of base.weights.values()) parameters += t.size;
  let next: FlowTurboPipeline;
  try {
    signal.throwIfAborted();
    next = await FlowTurboPipeline.open(backend, models, pipelineOptions(providers, parameters));
  } catch (e) {
    await models.vae?.release();
    throw e;
  }
  await swapModel(next, models.vae, base.file);
  post({
    type: "loaded",
    id,
    backend: choice,
    threads,
    model: {
      file: base.file,
      numClasses: base.config.numClasses,
      classNames: next.classNames ? [...next.classNames] : undefined,
      recommendedCfg: next.defaults.cfg,
      shape: [base.config.keepChannels, base.config.inputSize, base.config.inputSize],
      hasRefiner: refiner !== undefined,
      hasVae: models.vae !== undefined,
      parameters,
    },
    webgpu: gpu,
    providers,
  });
}

/** Puts a loaded model in place of the one in use, then releases the old one. */
async function swapModel(
  next: FlowTurboPipeline,
  nextVae: VaeDecoder | undefined,
  file: string,
): Promise<void> {
  const [old, oldVae] = [pipeline, vae];
  pipeline = next;
  vae = nextVae;
  current = file;
  await old?.release();
  await oldVae?.release();
}

/** A progress message for the page: the pipeline's progress and, with previews, the batch's samples. */
function postProgress(id: number, p: SampleProgress, pl: FlowTurboPipeline, request: GenerateRequest): void {
  let preview: { data: Float32Array; shape: number[] } | undefined;
  if (request.preview && p.x) {
    const [c, h, w] = pl.sampleShape;
    const per = c * h * w;
    // guided batches are [cond; uncond]: the first rows are the samples; padded rows are dropped
    const rows = Math.min(Math.floor(p.x.length / per), p.inBatch);
    preview = { data: p.x.slice(0, rows * per), shape: [rows, c, h, w] };
  }
  post(
    {
      type: "progress",
      id,
      at: performance.timeOrigin + performance.now(),
      phase: p.phase,
      done: p.done,
      total: p.total,
      batch: p.batch,
      batches: p.batches,
      inBatch: p.inBatch,
      step: p.step,
      steps: p.steps,
      t: p.t,
      fraction: p.fraction,
      nfe: p.nfe,
      compile: pl.compileLevel({ method: parseMethod(request.method), compile: request.compile }),
      preview,
    },
    preview ? [preview.data.buffer] : [],
  );
}

async function generate(id: number, request: GenerateRequest, signal: AbortSignal) {
  const pl = pipeline;
  if (!pl) throw new Error("no model loaded");
  const params = { ...request, method: parseMethod(request.method) };
  const problems = pl.check(params, INTERACTIVE_LIMITS);
  if (problems.length) throw new Error(problems.map((q) => q.message).join("; "));
  const g = await pl.generate(params, {
    signal,
    previews: request.preview,
    beforeRun: () => yieldAndCheck(signal),
    onProgress: (p) => postProgress(id, p, pl, request),
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
      seed: params.seed,
      method: methodLabel(params.method),
    },
    [images.buffer],
  );
}

/** Before every model run: lets a cancel (or a message that drops a compile ahead) in, then stops if it did. */
async function yieldAndCheck(signal: AbortSignal): Promise<void> {
  await yieldToEventLoop();
  signal.throwIfAborted();
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

/** The compile ahead queued or running (a "prepare"), with its request: what a later message may drop. */
interface Ahead {
  request: GenerateRequest;
  abort: AbortController;
  /** Compiled; warming the sessions up. */
  warming: boolean;
  /** Warm up once compiled: not when a Generate on these sessions came meanwhile (it warms them itself). */
  warmUp: boolean;
}
let ahead: Ahead | undefined;

/**
 * Drops the compile ahead unless `next` is a Generate on the same sessions, which then reuses them; its
 * warm-up stops for any message (such a Generate warms the sessions itself, and should not wait).
 */
function dropAheadFor(next: Exclude<ToWorker, { type: "cancel" }>): void {
  if (!ahead) return;
  if (!ahead.warming && keepsAhead(pipeline, ahead.request, next)) {
    ahead.warmUp = false;
    return;
  }
  ahead.abort.abort();
  ahead = undefined;
}

/**
 * Opens the sessions of a request's settings, then runs each of their block graphs once (warmUpRequest);
 * nothing when they are open or the request is invalid. Never rejects: the queue of loads and generations
 * goes on after it.
 */
async function prepare(entry: Ahead): Promise<void> {
  const { request } = entry;
  const signal = entry.abort.signal;
  const pl = pipeline;
  if (!pl || signal.aborted) return;
  try {
    const params = { ...request, method: parseMethod(request.method) };
    if (pl.check(params, INTERACTIVE_LIMITS).length || pl.hasSessions(params)) return;
    const t0 = performance.now();
    const models = await pl.sessions(params, { signal });
    post({
      type: "prepared",
      ms: performance.now() - t0,
      provider: models.provider,
      compile: pl.compileLevel(params),
    });
    const warm = warmUpRequest(pl, params);
    entry.warming = true;
    if (warm && entry.warmUp) await pl.generate(warm, { signal, beforeRun: () => yieldAndCheck(signal) });
  } catch (e) {
    // dropped, or failing: a Generate with these settings compiles again and reports what fails
    if (!isAbort(e) && !signal.aborted) console.warn("compiling ahead failed:", e);
  }
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === "AbortError" || /abort/i.test(e.message));
}

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "cancel") {
    const run = running.get(msg.id);
    if (run && !run.signal.aborted) cancelSeen.set(msg.id, performance.timeOrigin + performance.now());
    run?.abort();
    return;
  }
  dropAheadFor(msg);
  if (msg.type === "prepare") {
    const entry: Ahead = { request: msg.request, abort: new AbortController(), warming: false, warmUp: true };
    ahead = entry;
    queue = queue.then(() =>
      prepare(entry).finally(() => {
        if (ahead === entry) ahead = undefined;
      }),
    );
    return;
  }
  // registered now, so that a cancel also stops a load or generation still waiting in the queue
  const abort = new AbortController();
  running.set(msg.id, abort);
  queue = queue.then(() =>
    handle(msg, abort.signal).finally(() => {
      running.delete(msg.id);
      cancelSeen.delete(msg.id);
    }),
  );
};

/** Runs one load or generation; a cancel (AbortError) is answered with "cancelled", not an error. */
async function handle(
  msg: Exclude<ToWorker, { type: "cancel" | "prepare" }>,
  signal: AbortSignal,
): Promise<void> {
  const stage = msg.type === "load" ? "load" : "generate";
  try {
    signal.throwIfAborted();
    if (msg.type === "load") await load(msg.id, msg.model, msg.backend, signal, msg.ortLog);
    else await generate(msg.id, msg.request, signal);
  } catch (err) {
    if (isAbort(err) || signal.aborted)
      post({ type: "cancelled", id: msg.id, stage, cancelSeenAt: cancelSeen.get(msg.id) });
    else
      post({
        type: "error",
        id: msg.id,
        stage,
        message: (err as Error).message,
        ...(stage === "load" && current ? { kept: current } : {}),
      });
  }
}
