// Shared by the browser tests (backend-web, apps/web): headless Chromium with WebGPU on SwiftShader when
// there is no GPU, and a localhost file server with the cross-origin isolation headers threaded WASM needs.
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname } from "node:path";
import { FULL_TIER, FULL_TIER_ONLY, needs, skipWithout } from "@flowturbo/test-support";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Why the Chromium tests cannot run here, or undefined. */
export function chromiumUnavailable(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

/**
 * For a file of browser tests (describe.skipIf): true when they do not run here. Browser tests belong to
 * the full tier (FLOWTURBO_TEST_TIER=full, CI), where a missing Chromium is a failure, not a skip.
 */
export function skipBrowserTests(what: string): boolean {
  if (!FULL_TIER) {
    console.warn(`skipping ${what}: ${FULL_TIER_ONLY}`);
    return true;
  }
  return skipWithout(`Chromium for ${what}`, chromiumUnavailable());
}

/** In a browser test that found no WebGPU adapter in Chromium: fails in the full tier, skips otherwise. */
export function needsWebGpu(ctx: { skip(note?: string): void }, why: string | undefined): void {
  needs(ctx, "a WebGPU adapter in Chromium", why);
}

const BASE_FLAGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** WebGPU on SwiftShader's Vulkan when there is no GPU. */
const WEBGPU_FLAGS = [
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-webgpu-adapter=swiftshader",
  "--enable-unsafe-swiftshader",
];

const chromiumArgs = (webgpu: boolean) =>
  webgpu ? [...BASE_FLAGS, ...WEBGPU_FLAGS] : [...BASE_FLAGS, "--disable-features=WebGPU"];

/**
 * Launches headless Chromium; `webgpu: false` leaves WebGPU disabled (navigator.gpu absent). Its
 * contexts (`newContext()`) are incognito-like: nothing of a visit is kept on disk.
 */
export async function launchChromium(opts: { webgpu?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(opts.webgpu ?? true),
  });
}

/**
 * Headless Chromium on a user profile in `userDataDir`, as a person's browser runs: what a visit leaves
 * (HTTP cache, Cache Storage, and the compiled WebAssembly code Chromium caches per profile) is there for
 * the next visit. Closing the context closes the browser.
 */
export async function launchChromiumProfile(
  userDataDir: string,
  opts: { webgpu?: boolean } = {},
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(opts.webgpu ?? true),
  });
}

export const MIME: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".map": "application/json",
  ".json": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface FileServer {
  /** http://localhost:PORT/ */
  url: string;
  close(): void;
}

export interface ServeOptions {
  /** A Cache-Control header per path (none by default: nothing is cached between page loads). */
  cacheControl?: (path: string) => string | undefined;
}

/**
 * Serves whatever `lookup(path)` returns (404 when undefined) on an ephemeral localhost port, with
 * COOP/COEP so pages are cross-origin isolated (SharedArrayBuffer: threaded WASM).
 */
export async function serveFiles(
  lookup: (path: string) => Uint8Array | string | undefined,
  opts: ServeOptions = {},
): Promise<FileServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const body = lookup(path);
    if (body === undefined && path === "/favicon.ico") {
      res.writeHead(204).end(); // no favicon: not an error in the page's console
      return;
    }
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = MIME[extname(path)] ?? (path.endsWith("/") ? "text/html" : "application/octet-stream");
    const cache = opts.cacheControl?.(path);
    res.writeHead(200, {
      "content-type": type,
      "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
      ...(cache ? { "cache-control": cache } : {}),
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://localhost:${(server.address() as AddressInfo).port}/`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
