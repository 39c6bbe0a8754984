// The browser default build (`onnxruntime-web/webgpu`, native WebGPU + WASM) injected under Node: its WASM
// provider passes the suite too. Kept in its own file (own process): once its 26 MB asyncify module is
// instantiated, Node 20 stalls later asynchronous WebAssembly compiles (fetch, ESM imports of CommonJS)
// for about a minute. It runs single-threaded under Node (its threaded mode needs a browser).
import { runConformance } from "@flowturbo/core";
import { describe, expect, test } from "vitest";
import { createWebBackend } from "../src";

describe("onnxruntime-web/webgpu build under Node", () => {
  test("conformance on its WASM provider", async () => {
    const backend = createWebBackend({ ort: import("onnxruntime-web/webgpu"), threads: 1 });
    const used = new Set<string>();
    const results = await runConformance(
      {
        name: backend.name,
        providers: () => backend.providers(),
        load: async (source, opts) => {
          const s = await backend.load(source, opts);
          used.add(s.provider);
          return s;
        },
      },
      { providers: ["wasm"] },
    );
    await backend.close();
    expect([...used]).toEqual(["wasm"]);
    expect(results.length).toBeGreaterThan(30);
    expect(results.filter((r) => !r.passed).map((r) => `${r.name}/${r.output}: ${r.relError}`)).toEqual([]);
  });
});
