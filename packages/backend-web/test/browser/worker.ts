// Module Web Worker entry: runs the suite for the provider it is sent and posts the report back.
import { runSuite } from "./suite";

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<{ provider: "wasm" | "webgpu"; only?: string[] }>) => void) | null;
  postMessage(v: unknown): void;
};
scope.onmessage = async (e) => {
  scope.postMessage(await runSuite(e.data.provider, "worker", e.data.only));
};
