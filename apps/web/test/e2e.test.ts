// The built web app in headless Chromium (Debian's, WebGPU on SwiftShader): loads from a local server,
// generates on WASM and on WebGPU with the images of `flowturbo sample` for the same settings, reacts to
// controls, cancels, and shows messages (not a blank page) for a bad model URL and for missing WebGPU.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { launchChromium, needsWebGpu, skipBrowserTests } from "@flowturbo/browser-test";
import { SAFETY_TIMEOUT_MS } from "@flowturbo/test-support";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FromWorker } from "../src/protocol";
import { APP_ROOT, type BuiltApp, buildAndServe, startDevServer } from "./app";
import { cliSample, maxAbsDiff } from "./embedded";

type Result = Extract<FromWorker, { type: "result" }>;
interface AppState {
  ready: boolean;
  busy: boolean;
  error?: string;
  generations: number;
  last?: Result;
  webgpu?: { available: boolean; reason?: string };
}

export const ARTIFACTS = join(APP_ROOT, "test-artifacts");
const skip = skipBrowserTests("the web app tests");
let app: BuiltApp | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (skip) return;
  app = await buildAndServe();
  browser = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const SETTINGS = "class=3&plan=H1P2R2&seed=7&n=4&batch=4&cfg=1.5&compile=block&preview=1";

async function open(b: Browser, query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await b.newPage({ viewport: { width: 1100, height: 900 } });
  page.setDefaultTimeout(SAFETY_TIMEOUT_MS); // Playwright's 30 s default is a wall-clock limit
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${app!.server.url}?${query}`);
  return { page, errors };
}

const state = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp);

async function waitFor(page: Page, what: "ready" | "error", timeout = SAFETY_TIMEOUT_MS): Promise<void> {
  await page.waitForFunction(
    (w) => {
      const s = (globalThis as unknown as { flowturboApp?: AppState }).flowturboApp;
      return w === "ready" ? s?.ready && !s.busy : s?.error !== undefined;
    },
    what,
    { timeout },
  );
}

/** Clicks Generate and waits for the next result (or an error). */
async function generate(page: Page): Promise<Result> {
  const before = (await state(page)).generations;
  await page.click("#generate");
  await page.waitForFunction(
    (n) => {
      const s = (globalThis as unknown as { flowturboApp: AppState }).flowturboApp;
      return s.generations > n || s.error !== undefined;
    },
    before,
    { timeout: SAFETY_TIMEOUT_MS },
  );
  const s = await state(page);
  if (s.error) throw new Error(`the page reported: ${s.error}`);
  return s.last!;
}

describe.skipIf(skip)("web app in Chromium", () => {
  test("WASM: the same images as flowturbo sample; controls change the output; cancel", async () => {
    const { page, errors } = await open(browser!, `backend=wasm&${SETTINGS}`);
    await waitFor(page, "ready");
    expect(await page.textContent("#backend-line")).toMatch(/WebGPU not used: WASM was chosen/);
    // both model files were kept in Cache Storage: a reload reads them from there
    const cached = await page.evaluate(async () =>
      (await (await caches.open("flowturbo-models")).keys()).map((r) => new URL(r.url).pathname),
    );
    expect(cached).toHaveLength(2);
    expect(cached.every((p) => p.endsWith(".safetensors"))).toBe(true);
    const r = await generate(page);
    expect(r.provider).toBe("wasm");
    expect(r.shape).toEqual([4, 3, 32, 32]);
    expect(r.labels).toEqual([3, 3, 3, 3]);
    const node = await cliSample({ plan: "H1P2R2", seed: 7, classId: 3, n: 4, cfg: 1.5, compile: "block" });
    expect(maxAbsDiff(r.images, node)).toBeLessThan(1e-4);
    expect(await page.textContent("#timings")).toMatch(/base model\s*\d+ ms \(4 calls\)/);
    // the canvas shows the grid (2 x 2 images of 32 px, 2 px gaps) and is not blank
    const canvas = await page.evaluate(() => {
      const c = document.getElementById("canvas") as HTMLCanvasElement;
      const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      const distinct = new Set<number>();
      for (let i = 0; i < px.length; i += 4) distinct.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
      return { w: c.width, h: c.height, colors: distinct.size };
    });
    expect(canvas).toMatchObject({ w: 66, h: 66 });
    expect(canvas.colors).toBeGreaterThan(50);

    await page.fill("#seed", "8");
    const reseeded = await generate(page);
    expect(maxAbsDiff(reseeded.images, r.images)).toBeGreaterThan(0.1);
    await page.selectOption("#class", "5");
    const reclassed = await generate(page);
    expect(reclassed.labels).toEqual([5, 5, 5, 5]);
    expect(maxAbsDiff(reclassed.images, reseeded.images)).toBeGreaterThan(0.05);

    // the pipeline's rule, as the CLI has it: Euler cannot be block-compiled; the page says so and runs nothing
    await page.selectOption("#method", "euler");
    await page.click("#generate");
    await page.waitForFunction(() =>
      /compile "block" runs FlowTurbo plans and Heun/.test(
        document.getElementById("error")!.textContent ?? "",
      ),
    );
    expect((await state(page)).generations).toBe(3);
    await page.selectOption("#compile", "auto");

    // a long run, cancelled once it is under way: the page says so and can generate again
    await page.fill("#steps", "250");
    await page.click("#generate");
    await page.waitForFunction(() =>
      /step [1-9]/.test(document.getElementById("status-line")!.textContent ?? ""),
    );
    await page.click("#cancel");
    await page.waitForFunction(() => document.getElementById("status-line")!.textContent === "Cancelled.");
    await page.fill("#steps", "2");
    const after = await generate(page);
    expect(after.nfe.base).toBe(2); // Euler, 2 steps (a guided call on the doubled batch counts once)
    expect(errors).toEqual([]);
    await page.close();
  });

  test("WebGPU (SwiftShader): the same images within WebGPU's float tolerance; screenshot kept", async (ctx) => {
    const { page, errors } = await open(browser!, `backend=webgpu&${SETTINGS}`);
    await waitFor(page, "ready");
    const s = await state(page);
    needsWebGpu(ctx, s.webgpu?.available ? undefined : `the page says: ${s.webgpu?.reason}`);
    const r = await generate(page);
    expect(r.provider).toBe("webgpu");
    const node = await cliSample({ plan: "H1P2R2", seed: 7, classId: 3, n: 4, cfg: 1.5, compile: "block" });
    // WGSL bounds sin/cos only to 2^-11 and SwiftShader's transcendentals are approximate: a few 1e-4
    // over the whole trajectory (measured 6.3e-4 with onnxruntime-node's Dawn on the same plan and model)
    expect(maxAbsDiff(r.images, node)).toBeLessThan(5e-3);
    expect(await page.textContent("#backend-line")).toMatch(/Ran on WebGPU \(compile block\)/);
    // the state stayed in GPU buffers between blocks: one upload and one download for the batch
    expect(r.transfers).toMatchObject({
      stateUploads: 1,
      downloads: 1,
      hostOutputs: 0,
      locations: ["gpu-buffer"],
    });
    await page.screenshot({ path: join(ARTIFACTS, "web-app-webgpu.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  test("a bad model URL shows a message, not a blank page", async () => {
    const { page } = await open(browser!, "backend=wasm&base=/models/missing.safetensors");
    await waitFor(page, "error");
    expect(await page.isVisible("#error")).toBe(true);
    expect(await page.textContent("#error")).toMatch(/could not download .*missing\.safetensors: HTTP 404/);
    expect(await page.textContent("#status-line")).toMatch(/could not be loaded/);
    expect(await page.isVisible("h1")).toBe(true);
    expect(await page.isDisabled("#generate")).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "web-app-bad-url.png"), fullPage: true });
    await page.close();
  });

  test("the dev server (pnpm dev) serves a working app: threaded WASM in a cross-origin isolated page", async () => {
    const dev = await startDevServer();
    try {
      const page = await browser!.newPage();
      page.setDefaultTimeout(SAFETY_TIMEOUT_MS);
      await page.goto(`${dev.url}?backend=wasm&n=2&batch=2&plan=H1P2R2&preview=0`);
      await waitFor(page, "ready");
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      const r = await generate(page);
      expect(r.provider).toBe("wasm");
      await page.close();
    } finally {
      await dev.close();
    }
  });

  test("phone-size screen: one column, no sideways scrolling, every control labelled", async () => {
    const page = await browser!.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    page.setDefaultTimeout(SAFETY_TIMEOUT_MS);
    await page.goto(`${app!.server.url}?backend=wasm`);
    await waitFor(page, "ready");
    const layout = await page.evaluate(() => {
      const unlabelled = [...document.querySelectorAll("input, select")]
        .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute("aria-label"))
        .map((el) => el.id);
      const form = document.getElementById("controls")!.getBoundingClientRect();
      const out = document.getElementById("output")!.getBoundingClientRect();
      return {
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        unlabelled,
        stacked: out.top >= form.bottom - 1,
      };
    });
    expect(layout).toEqual({ overflow: 0, unlabelled: [], stacked: true });
    await page.screenshot({ path: join(ARTIFACTS, "web-app-phone.png"), fullPage: true });
    await page.close();
  });

  test("without WebGPU: auto falls back to WASM and says why; asking for WebGPU explains", async () => {
    const plain = await launchChromium({ webgpu: false });
    try {
      const { page } = await open(plain, `backend=auto&${SETTINGS.replace("n=4&batch=4", "n=1&batch=1")}`);
      await waitFor(page, "ready");
      expect(await page.textContent("#backend-line")).toMatch(
        /WebGPU not used: .*(no WebGPU|no GPU adapter)/,
      );
      const r = await generate(page);
      expect(r.provider).toBe("wasm");
      await page.close();
      const asked = await open(plain, `backend=webgpu&${SETTINGS}`);
      await waitFor(asked.page, "error");
      expect(await asked.page.textContent("#error")).toMatch(/WebGPU was requested but is not available/);
      await asked.page.close();
    } finally {
      await plain.close();
    }
  });
});
