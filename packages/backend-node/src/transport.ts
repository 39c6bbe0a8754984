// How requests reach the engine: a worker thread (default) or a direct call in the caller's thread.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Engine } from "./engine";
import { ExitGate } from "./exitGate";
import type { Reply, Request, SerializedError } from "./protocol";

export interface Transport {
  readonly mode: "worker" | "in-thread";
  /** Increments whenever the engine restarts (a worker that died): sessions of older generations are gone. */
  readonly generation: number;
  request<T>(req: Request, transfer?: ArrayBuffer[]): Promise<T>;
  close(): Promise<void>;
}

export class InThreadTransport implements Transport {
  readonly mode = "in-thread";
  readonly generation = 0;
  private engine?: Promise<Engine>;
  private closed = false;

  request<T>(req: Request): Promise<T> {
    if (this.closed) return Promise.reject(new Error("@flowturbo/backend-node: the backend was closed"));
    // onnxruntime-node is loaded on first use, so that worker-mode callers never load it in their thread
    this.engine ??= import("./engine").then(({ Engine }) => new Engine({ keepHostOutputs: false }));
    return this.engine.then((e) => e.handle(req) as Promise<T>);
  }

  async close(): Promise<void> {
    this.closed = true;
    const e = this.engine;
    this.engine = undefined;
    if (e) await (await e).close();
  }
}

/**
 * The worker's entry: dist/worker.js next to the built bundle, or src/worker.ts when running from source
 * (vitest, tsx): then the worker loads tsx and resolves workspace packages to their sources too.
 */
export function workerEntry(): { entry: string | URL; eval?: boolean; execArgv?: string[] } {
  const js = new URL("./worker.js", import.meta.url);
  if (js.protocol === "file:" && existsSync(fileURLToPath(js))) return { entry: js };
  const ts = new URL("./worker.ts", import.meta.url);
  if (ts.protocol === "file:" && existsSync(fileURLToPath(ts))) {
    // --import in a worker's execArgv does not hook the worker's own entry: register tsx, then import it
    // (tsx's --import entry registers its hooks in the main thread only; its API registers them anywhere)
    const tsxDir = dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
    const api = pathToFileURL(join(tsxDir, "dist", "esm", "api", "index.mjs")).href;
    const code = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(ts.href)}); });`;
    return { entry: code, eval: true, execArgv: ["--conditions=@flowturbo/source"] };
  }
  throw new Error(`@flowturbo/backend-node: worker entry not found next to ${import.meta.url}`);
}

function rehydrate(e: SerializedError): Error {
  const err = new Error(e.message);
  if (e.name && e.name !== "Error") err.name = e.name;
  return err;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class WorkerTransport implements Transport {
  readonly mode = "worker";
  generation = 0;
  private worker?: Worker;
  private gate?: ExitGate;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;

  private spawn(): Worker {
    const { entry, eval: isCode, execArgv } = workerEntry();
    const gate = new ExitGate();
    const w = new Worker(entry, {
      eval: isCode,
      execArgv,
      name: "flowturbo-ort",
      workerData: { gate: gate.buffer },
    });
    this.generation++;
    this.gate = gate;
    process.on("exit", this.waitForWorker);
    // An idle worker must not keep the process alive: it is ref'd only while requests are in flight.
    w.unref();
    w.on("message", (r: Reply) => this.settle(r));
    w.on("error", (e) => this.lost(w, e));
    w.on("exit", (code) => this.lost(w, new Error(`the ONNX Runtime worker exited (code ${code})`)));
    return w;
  }

  /** 'exit' listener: the process ends only after the worker's native call in hand has returned. */
  private readonly waitForWorker = (): void => {
    this.gate?.close(() =>
      process.stderr.write(
        "@flowturbo/backend-node: waiting for the ONNX Runtime call in progress to finish before exiting\n",
      ),
    );
  };

  /** True while the worker is inside a request (for tests and diagnostics). */
  get busy(): boolean {
    return this.gate?.busy ?? false;
  }

  private detach(): void {
    process.off("exit", this.waitForWorker);
    this.gate = undefined;
    this.worker = undefined;
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (r.ok) p.resolve(r.result);
    else p.reject(rehydrate(r.error));
  }

  private lost(w: Worker, e: Error): void {
    if (this.worker !== w) return;
    this.detach();
    const pending = [...this.pending.values()];
    this.pending.clear();
    const err = this.closing ? new Error("the backend was closed") : e;
    for (const p of pending) p.reject(err);
  }

  request<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closing) return Promise.reject(new Error("@flowturbo/backend-node: the backend was closed"));
    if (!this.worker) this.worker = this.spawn();
    const w = this.worker;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) w.ref();
      try {
        w.postMessage({ id, request: req }, transfer);
      } catch (e) {
        this.pending.delete(id);
        if (this.pending.size === 0) w.unref();
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    const w = this.worker;
    try {
      if (w) await this.request({ op: "close" });
    } finally {
      this.closing = true;
      this.detach();
      if (w) await w.terminate();
    }
  }
}
