// The test page: runs the suite in the page, or in a module Web Worker (the adapter uses no DOM).
import { runSuite, type SuiteReport } from "./suite";

function inWorker(provider: "wasm" | "webgpu", only?: readonly string[]): Promise<SuiteReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker("/worker.js", { type: "module" });
    w.onmessage = (e: MessageEvent<SuiteReport>) => {
      w.terminate();
      resolve(e.data);
    };
    w.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
    w.postMessage({ provider, only });
  });
}

(globalThis as { flowturbo?: unknown }).flowturbo = {
  runInPage: (provider: "wasm" | "webgpu", only?: readonly string[]) => runSuite(provider, "page", only),
  runInWorker: inWorker,
};
