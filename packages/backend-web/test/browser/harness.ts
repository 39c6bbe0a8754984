// Node side of the Chromium tests: bundles the test page with esbuild, serves it (and onnxruntime-web's own
// files from node_modules/onnxruntime-web/dist) on an ephemeral localhost port, drives headless Chromium.
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const requireChromium = process.env.FLOWTURBO_REQUIRE_CHROMIUM === "1";
export const requireWebGpu = process.env.FLOWTURBO_REQUIRE_WEBGPU === "1";

/** Why the Chromium tests cannot run here, or undefined. */
export function chromiumUnavailable(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

const ORT_DIST = dirname(createRequire(import.meta.url).resolve("onnxruntime-web"));
const HERE = dirname(fileURLToPath(import.meta.url));

const MIME: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".wasm": "application/wasm",
  ".map": "application/json",
};

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
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    let body: Uint8Array | string | undefined;
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (path === "/") body = PAGE;
    else if (files[path]) body = files[path];
    else if (path.startsWith("/ort/")) {
      const file = normalize(join(ORT_DIST, path.slice("/ort/".length)));
      if (file.startsWith(ORT_DIST) && existsSync(file)) body = readFileSync(file);
    }
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": MIME[path === "/" ? ".html" : extname(path)] ?? "application/octet-stream",
      // cross-origin isolation: SharedArrayBuffer, hence threaded WASM
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://localhost:${(server.address() as AddressInfo).port}/`;
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-unsafe-webgpu",
        "--enable-features=Vulkan",
        // WebGPU on SwiftShader's Vulkan when there is no GPU
        "--use-webgpu-adapter=swiftshader",
        "--enable-unsafe-swiftshader",
      ],
    });
  } catch (e) {
    server.close();
    throw e;
  }
  return {
    url,
    browser,
    close: async () => {
      await browser.close();
      server.closeAllConnections();
      server.close();
    },
  };
}
