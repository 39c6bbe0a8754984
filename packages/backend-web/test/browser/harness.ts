// Node side of the Chromium tests: bundles the test page with esbuild, serves it (and onnxruntime-web's own
// files from node_modules/onnxruntime-web/dist) on an ephemeral localhost port, drives headless Chromium.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, serveFiles } from "@flowturbo/browser-test";
import { build } from "esbuild";
import type { Browser } from "playwright-core";

export { needsWebGpu, skipBrowserTests } from "@flowturbo/browser-test";

const ORT_DIST = dirname(createRequire(import.meta.url).resolve("onnxruntime-web"));
const HERE = dirname(fileURLToPath(import.meta.url));

async function bundle(): Promise<Record<string, Uint8Array>> {
  const out = await build({
    entryPoints: { page: join(HERE, "page.ts"), worker: join(HERE, "worker.ts") },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["@flowturbo/source"],
    write: false,
    outdir: "/",
    logLevel: "silent",
    plugins: [
      {
        // onnxruntime-web is not bundled: the page loads ORT's own module and wasm from /ort/
        name: "ort-from-dist",
        setup(b) {
          b.onResolve({ filter: /^onnxruntime-web(\/webgpu)?$/ }, () => ({
            path: "/ort/ort.webgpu.min.mjs",
            external: true,
          }));
          // the WASM-only build, which backend-web uses for WASM sessions in browsers
          b.onResolve({ filter: /^onnxruntime-web\/wasm$/ }, () => ({
            path: "/ort/ort.wasm.min.mjs",
            external: true,
          }));
        },
      },
    ],
  });
  const files: Record<string, Uint8Array> = {};
  for (const f of out.outputFiles) files[f.path] = f.contents;
  return files;
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>flowturbo backend-web</title>
<script type="module" src="/page.js"></script></head><body></body></html>`;

export interface Harness {
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const files = await bundle();
  const server = await serveFiles((path) => {
    if (path === "/") return PAGE;
    if (files[path]) return files[path];
    if (path.startsWith("/ort/")) {
      const file = normalize(join(ORT_DIST, path.slice("/ort/".length)));
      if (file.startsWith(ORT_DIST) && existsSync(file)) return readFileSync(file);
    }
    return undefined;
  });
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (e) {
    server.close();
    throw e;
  }
  return {
    url: server.url,
    browser,
    close: async () => {
      await browser.close();
      server.close();
    },
  };
}
