// Builds the app with Vite (the production build users deploy) and serves it on localhost for Chromium.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { type FileServer, serveFiles } from "@flowturbo/browser-test";
import { build, createServer } from "vite";

export const APP_ROOT = join(import.meta.dirname, "..");

export interface BuiltApp {
  dir: string;
  server: FileServer;
  close(): Promise<void>;
}

export async function buildAndServe(): Promise<BuiltApp> {
  const dir = await mkdtemp(join(tmpdir(), "flowturbo-web-"));
  await build({ root: APP_ROOT, logLevel: "error", build: { outDir: dir, emptyOutDir: true } });
  const server = await serveFiles((path) => {
    const file = normalize(join(dir, path === "/" ? "index.html" : path));
    if (!file.startsWith(dir) || !existsSync(file)) return undefined;
    try {
      return readFileSync(file);
    } catch {
      return undefined; // a directory
    }
  });
  return {
    dir,
    server,
    close: async () => {
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `vite` (the dev server of `pnpm dev`) on an ephemeral port. */
export async function startDevServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = await createServer({
    root: APP_ROOT,
    logLevel: "error",
    server: { port: 0, host: "localhost" },
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error("the Vite dev server reported no local URL");
  return { url, close: () => server.close() };
}
