// backend-web in headless Chromium: the conformance suite on WASM and on WebGPU (SwiftShader), in the page
// and in a module Web Worker, plus a gpu-buffer device-tensor round trip.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SAFETY_TIMEOUT_MS } from "@flowturbo/test-support";
import { type Harness, needsWebGpu, skipBrowserTests, startHarness } from "./browser/harness";
import type { SuiteReport } from "./browser/suite";

/** WGSL bounds sin/cos only to 2^-11 absolute on [-pi, pi]; SwiftShader uses it (see backend-node's webgpu test). */

const skip = skipBrowserTests("backend-web's Chromium tests");
let harness: Harness | undefined;
let page: Page | undefined;

beforeAll(async () => {
  if (skip) return;
  harness = await startHarness();
  page = await harness.browser.newPage();
  page.setDefaultTimeout(SAFETY_TIMEOUT_MS);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(harness.url);
  await page.waitForFunction(
    () => (globalThis as { flowturbo?: unknown }).flowturbo !== undefined,
    undefined,
    { timeout: SAFETY_TIMEOUT_MS },
  );
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
});

afterAll(async () => {
  await harness?.close();
});

/**
 * SwiftShader compiles every WebGPU shader on the CPU (seconds per case on a busy 2-core machine): the
 * worker runs one WebGPU case plus the round trip; the page runs every case on both providers.
 */
const WORKER_WEBGPU_CASES = ["matmul"];

type Runner = (provider: string, only?: readonly string[]) => Promise<SuiteReport>;

async function run(provider: "wasm" | "webgpu", where: "page" | "worker"): Promise<SuiteReport> {
  const fn = where === "page" ? "runInPage" : "runInWorker";
  const only = where === "worker" && provider === "webgpu" ? WORKER_WEBGPU_CASES : undefined;
  return page!.evaluate(
    ([f, p, o]) => (globalThis as unknown as { flowturbo: Record<string, Runner> }).flowturbo[f](p, o),
    [fn, provider, only] as const,
  );
}

/** Outputs outside their bound (the suite holds sin/cos outputs to WEBGPU_TRIG_TOLERANCE on webgpu). */
function failures(r: SuiteReport): string[] {
  return r.results.filter((x) => !x.passed).map((x) => `${x.name}/${x.output}: ${x.relError}`);
}

describe.skipIf(skip).each(["page", "worker"] as const)("Chromium (%s)", (where) => {
  test("conformance on WASM", async () => {
    const r = await run("wasm", where);
    expect(r.error).toBeUndefined();
    expect(r.providers).toEqual(["wasm"]);
    expect(r.reasons).toEqual([]);
    expect(r.results.length).toBeGreaterThan(30);
    expect(failures(r)).toEqual([]);
  });

  test("conformance on WebGPU (SwiftShader where there is no GPU)", async (ctx) => {
    const r = await run("webgpu", where);
    needsWebGpu(ctx, r.webgpu ? undefined : `Chromium offers no WebGPU adapter here (${where})`);
    expect(r.error).toBeUndefined();
    // every session really ran on WebGPU
    expect(r.providers).toEqual(["webgpu"]);
    expect(r.reasons).toEqual([]);
    expect(r.results.length).toBe(where === "page" ? 40 : 3);
    expect(failures(r)).toEqual([]);
    expect(r.trip).toEqual({
      provider: "webgpu",
      firstLocation: "gpu-buffer",
      secondLocation: "gpu-buffer",
      values: [3, 7, 11, 15, 19, 23],
      disposedError: "device tensor float32[2, 3] was disposed",
    });
  });
});
