// Vite config of the web app. Workspace packages resolve to their TypeScript sources; onnxruntime-web is
// used through its "extern wasm" build, whose WASM glue (.mjs) and binary (.wasm) are served from ort/
// (copied from node_modules at build time, served from there in dev) so that ORT's own pthread workers
// load ORT, not the app's worker chunk.
import { createReadStream, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { defaultClientConditions, defineConfig, type Plugin } from "vite";

const ORT_DIST = dirname(createRequire(import.meta.url).resolve("onnxruntime-web"));
/**
 * The files ORT loads at run time: the WebGPU build's (asyncify) for WebGPU sessions, the WASM-only build's
 * for WASM sessions (half the download, about 2x faster than the asyncify build's WASM; backend-web picks).
 */
export const ORT_FILES = [
  "ort-wasm-simd-threaded.asyncify.mjs",
  "ort-wasm-simd-threaded.asyncify.wasm",
  "ort-wasm-simd-threaded.mjs",
  "ort-wasm-simd-threaded.wasm",
];

/** Cross-origin isolation: SharedArrayBuffer, hence multi-threaded WASM. */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

function ortRuntimeFiles(): Plugin {
  return {
    name: "flowturbo-ort-runtime-files",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? "").split("?")[0];
        const file = path.startsWith("/ort/") ? path.slice(5) : "";
        if (!ORT_FILES.includes(file)) return next();
        res.setHeader("content-type", file.endsWith(".wasm") ? "application/wasm" : "text/javascript");
        // ORT starts its WASM threads as workers from the .mjs: without these headers on it too, a
        // cross-origin isolated page cannot start them and session creation waits forever
        for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
        createReadStream(join(ORT_DIST, file)).pipe(res);
      });
    },
    generateBundle() {
      for (const file of ORT_FILES)
        this.emitFile({ type: "asset", fileName: `ort/${file}`, source: readFileSync(join(ORT_DIST, file)) });
    },
  };
}

export default defineConfig({
  base: "./",
  resolve: {
    conditions: ["@flowturbo/source", "onnxruntime-web-use-extern-wasm", ...defaultClientConditions],
  },
  assetsInclude: ["**/*.safetensors"],
  worker: {
    format: "es",
  },
  optimizeDeps: { exclude: ["onnxruntime-web"] },
  build: { target: "es2022", chunkSizeWarningLimit: 2048 },
  server: { headers: ISOLATION_HEADERS, fs: { allow: ["../.."] } },
  preview: { headers: ISOLATION_HEADERS },
  plugins: [ortRuntimeFiles()],
});
