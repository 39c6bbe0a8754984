// The built web app in headless Chromium (Debian's, WebGPU on SwiftShader), as a new user meets it: loads
// from a local server, generates on WASM and on WebGPU the images of `flowturbo sample` for the same
// settings, shows previews per block and progress per step with the phase named, cancels within a block
// (and cancels downloads), refuses bad fields and URL parameters next to the field, keeps a working model
// when a load fails, fits Generate and the status line on the first screen, and offers captions, an
// enlarged view, the cache size and a gallery. Timeouts are safety nets only: nothing here times anything.
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { launchChromium, needsWebGpu, skipBrowserTests } from "@flowturbo/browser-test";
import { nodePlacements } from "@flowturbo/core";
import { SAFETY_TIMEOUT_MS } from "@flowturbo/test-support";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FromWorker } from "../src/protocol";
import { APP_ROOT, type BuiltApp, buildAndServe, startDevServer } from "./app";
import { cliSample, maxAbsDiff } from "./embedded";

type Result = Extract<FromWorker, { type: "result" }>;
interface RunLog {
  id: number;
  events: { phase: string; batch: number; step: number; at: number }[];
  progress: number[];
  status: string[];
  previews: number;
  cancelAt?: number;
  cancelSeenAt?: number;
  end?: "result" | "cancelled" | "error";
}
interface AppState {
  ready: boolean;
  busy: boolean;
  activity: "idle" | "loading" | "generating";
  error?: string;
  generations: number;
  loads: number;
  prepared: number;
  last?: Result;
  run?: RunLog;
  problems: Record<string, string>;
  providers?: string[];
  loadedBackend?: string;
  cancelled?: "load" | "generate";
  model?: { file: string };
  webgpu?: { available: boolean; reason?: string };
}

export const ARTIFACTS = join(APP_ROOT, "test-artifacts");
/** The README's screenshots, taken by the layout test. */
const DOCS = join(APP_ROOT, "docs");
const skip = skipBrowserTests("the web app tests");
let app: BuiltApp | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (skip) return;
  app = await buildAndServe();
  browser = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const SETTINGS = "class=3&plan=H1P2R2&seed=7&n=4&batch=4&cfg=1.5&compile=block&preview=1";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function open(
  b: Browser,
  query: string,
  options: { viewport?: { width: number; height: number }; isMobile?: boolean } = {},
): Promise<{ page: Page; errors: string[]; failed: string[]; console: string[] }> {
  const page = await b.newPage({ viewport: options.viewport ?? DESKTOP, isMobile: options.isMobile });
  page.setDefaultTimeout(SAFETY_TIMEOUT_MS);
  const errors: string[] = [];
  const failed: string[] = [];
  /** The page's and its workers' console messages. */
  const console: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => console.push(m.text()));
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  await page.goto(`${app!.server.url}?${query}`);
  return { page, errors, failed, console };
}

const state = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp);

/** Waits until the page is ready and idle, or reports an error. */
async function waitFor(page: Page, what: "ready" | "error" | "idle"): Promise<void> {
  await page.waitForFunction((w) => {
    const s = (globalThis as unknown as { flowturboApp?: AppState }).flowturboApp;
    if (w === "error") return s?.error !== undefined;
    if (w === "idle") return s !== undefined && !s.busy;
    return s?.ready && !s.busy;
  }, what);
}

/** Clicks Generate and waits for the run's end; returns the run as the page logged it. */
async function generate(page: Page): Promise<{ run: RunLog; last?: Result }> {
  const before = (await state(page)).run?.id;
  await page.click("#generate");
  // a run that ended, or fields the page refused (then no run starts: fail now, naming them)
  await page.waitForFunction((id) => {
    const s = (globalThis as unknown as { flowturboApp: AppState }).flowturboApp;
    const r = s.run;
    return (r !== undefined && r.id !== id && r.end !== undefined) || Object.keys(s.problems).length > 0;
  }, before);
  const s = await state(page);
  if (Object.keys(s.problems).length) throw new Error(`the page refused: ${JSON.stringify(s.problems)}`);
  if (s.run!.end === "error") throw new Error(`the page reported: ${s.error}`);
  return { run: s.run!, last: s.last };
}

/**
 * Waits for a predicate on the run in progress (e.g. a step), then clicks Cancel in the same turn of the
 * page's event loop (no step can end in between, and a run that ended first is not waited on: Playwright
 * would wait for a disabled Cancel), and waits for the end.
 */
async function cancelWhen(page: Page, predicate: string): Promise<RunLog> {
  await page.waitForFunction(
    `(() => { const r = globalThis.flowturboApp.run; if (!r) return false; if (r.end) return true;
      if (!(${predicate})) return false; document.getElementById("cancel").click(); return true; })()`,
  );
  await page.waitForFunction(() => {
    const s = (globalThis as unknown as { flowturboApp: AppState }).flowturboApp;
    return s.run?.end !== undefined && !s.busy;
  });
  return (await state(page)).run!;
}

/**
 * Step events the worker finished after the cancel reached it (the worker's clock): at most the block
 * under way. Counted from the worker's receipt, not the click: on a busy machine the message can take
 * longer than a block to arrive.
 */
function stepsAfterCancel(run: RunLog): number {
  expect(run.cancelSeenAt).toBeDefined();
  return run.events.filter((e) => e.phase === "sample" && e.at > run.cancelSeenAt!).length;
}

/** The class names of the loaded model, from the Class menu. */
const classNames = (page: Page) =>
  page.$$eval("#class option", (os) =>
    os.filter((o) => (o as HTMLOptionElement).value !== "random").map((o) => o.textContent ?? ""),
  );

function strictlyIncreasing(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]);
}

/** Distinct colours of the i-th result canvas (a blank canvas has 1). */
const colours = (page: Page, i = 0) =>
  page.evaluate((index) => {
    const c = document.querySelectorAll<HTMLCanvasElement>("#results canvas")[index];
    const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    const distinct = new Set<number>();
    for (let k = 0; k < px.length; k += 4) distinct.add((px[k] << 16) | (px[k + 1] << 8) | px[k + 2]);
    return { size: distinct.size, w: c.width, sum: px.reduce((a, v) => a + v, 0) };
  }, i);

/** Waits until a preview is drawn while the run is still going and returns the first image's colours then. */
async function previewDuringRun(page: Page): Promise<{ size: number; sum: number; ended: boolean }> {
  const handle = await page.waitForFunction(() => {
    const r = (globalThis as unknown as { flowturboApp: AppState }).flowturboApp.run;
    if (!r || r.end) return r ? { size: 0, sum: 0, ended: true } : false;
    if (r.previews < 1) return false;
    const c = document.querySelector<HTMLCanvasElement>("#results canvas")!;
    const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    const distinct = new Set<number>();
    for (let k = 0; k < px.length; k += 4) distinct.add((px[k] << 16) | (px[k + 1] << 8) | px[k + 2]);
    return { size: distinct.size, sum: px.reduce((a, v) => a + v, 0), ended: false };
  });
  return (await handle.jsonValue()) as { size: number; sum: number; ended: boolean };
}

describe.skipIf(skip)("web app in Chromium", () => {
  test("WASM: the same images as flowturbo sample; a preview per block at compile block; controls change the output", async () => {
    const { page, errors } = await open(browser!, `backend=wasm&${SETTINGS}`);
    await waitFor(page, "ready");
    expect(await page.textContent("#backend-line")).toMatch(/WebGPU not used: WASM was chosen/);
    // both model files were kept in Cache Storage: a reload reads them from there
    const cached = await page.evaluate(async () =>
      (await (await caches.open("flowturbo-models")).keys()).map((r) => new URL(r.url).pathname),
    );
    expect(cached).toHaveLength(2);
    expect(cached.every((p) => p.endsWith(".safetensors"))).toBe(true);
    await page.click("#generate");
    // issue 18.1: the preview shows the state while the run goes on, at compile level block
    const preview = await previewDuringRun(page);
    expect(preview.ended).toBe(false);
    expect(preview.size).toBeGreaterThan(50);
    await page.waitForFunction(
      () => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp.run?.end,
    );
    const { run, last } = await state(page);
    const r = last!;
    expect(run!.end).toBe("result");
    expect(run!.previews).toBe(5); // H1P2R2: one preview per block
    expect(r.provider).toBe("wasm");
    expect(r.compile).toBe("block");
    expect(r.shape).toEqual([4, 3, 32, 32]);
    expect(r.labels).toEqual([3, 3, 3, 3]);
    const node = await cliSample({ plan: "H1P2R2", seed: 7, classId: 3, n: 4, cfg: 1.5, compile: "block" });
    expect(maxAbsDiff(r.images, node)).toBeLessThan(1e-4);
    expect(await page.textContent("#timings")).toMatch(/base model\s*\d+ ms \(4 calls\)/);
    // one figure per image with its class as caption; the final image is not the preview
    const final = await colours(page);
    expect(final.w).toBe(32);
    expect(final.size).toBeGreaterThan(50);
    expect(final.sum).not.toBe(preview.sum);
    const names = await classNames(page);
    expect(await page.locator("#results figcaption").allTextContents()).toEqual(new Array(4).fill(names[3]));

    await page.fill("#seed", "8");
    const reseeded = (await generate(page)).last!;
    expect(maxAbsDiff(reseeded.images, r.images)).toBeGreaterThan(0.1);
    await page.selectOption("#class", "5");
    const reclassed = (await generate(page)).last!;
    expect(reclassed.labels).toEqual([5, 5, 5, 5]);
    expect(maxAbsDiff(reclassed.images, reseeded.images)).toBeGreaterThan(0.05);
    // without the preview: the same samples, no state copies for previews (WASM keeps the state in JS anyway)
    await page.uncheck("#preview");
    const quiet = await generate(page);
    expect(quiet.run.previews).toBe(0);
    expect(maxAbsDiff(quiet.last!.images, reclassed.images)).toBe(0);

    // the pipeline's rule, as the CLI has it: Euler cannot be block-compiled (the URL asked for block);
    // the page says so next to Compile (the folded settings open) and runs nothing; compile auto runs it
    const runs = (await state(page)).generations;
    await page.selectOption("#method", "euler");
    await page.fill("#steps", "4");
    await page.click("#generate");
    expect(await page.textContent("#compile-error")).toMatch(
      /^compile "block" runs FlowTurbo plans and Heun, not 'euler'/,
    );
    expect(await page.isVisible("#compile-error")).toBe(true);
    expect(await page.textContent("#status-line")).toBe("Not started: fix the marked fields.");
    const refused = await state(page);
    expect(refused.generations).toBe(runs);
    expect(refused.busy).toBe(false);
    await page.selectOption("#compile", "auto");
    expect(await page.isVisible("#compile-error")).toBe(false);
    const euler = (await generate(page)).last!;
    expect(euler.compile).toBe("model");
    expect(euler.nfe.base).toBe(4); // one call per step (the guided pair is one batched call)
    const cost = {
      provider: "wasm",
      blocks: 5,
      previewOnMs: reclassed.timings.sampling,
      previewOffMs: quiet.last!.timings.sampling,
      transfersOn: reclassed.transfers,
      transfersOff: quiet.last!.transfers,
    };
    console.log(`preview cost (WASM, H1P2R2, 4 images guided): ${JSON.stringify(cost)}`);
    await writeFile(join(ARTIFACTS, "preview-cost-wasm.json"), JSON.stringify(cost, null, 2));
    expect(errors).toEqual([]);
    await page.close();
  });

  test("WebGPU (SwiftShader): the same images; no node on the CPU; the GPU wait is named; previews per block; Cancel within one block", async (ctx) => {
    // ortLog=verbose: ORT-web logs each session's node placements to the console
    const {
      page,
      errors,
      console: log,
    } = await open(browser!, `backend=webgpu&ortLog=verbose&${SETTINGS.replace("preview=1", "preview=0")}`);
    await waitFor(page, "ready");
    const s = await state(page);
    needsWebGpu(ctx, s.webgpu?.available ? undefined : `the page says: ${s.webgpu?.reason}`);
    // preview off: the blocks are queued on the GPU back to back, and the page says it waits for them
    const quiet = await generate(page);
    const r = quiet.last!;
    expect(r.provider).toBe("webgpu");
    const node = await cliSample({ plan: "H1P2R2", seed: 7, classId: 3, n: 4, cfg: 1.5, compile: "block" });
    // WGSL bounds sin/cos only to 2^-11 and SwiftShader's transcendentals are approximate: a few 1e-4
    // over the whole trajectory (measured 6.3e-4 with onnxruntime-node's Dawn on the same plan and model)
    expect(maxAbsDiff(r.images, node)).toBeLessThan(5e-3);
    expect(await page.textContent("#backend-line")).toMatch(/Ran on WebGPU \(compile block/);
    // issue 17: every node of every session the app opened on ORT-web's WebGPU EP (ORT's start-up session,
    // the weight upload, the H, P and R block graphs of the plain form) is on WebGPU, none on the CPU
    const placements = nodePlacements(log.join("\n"));
    console.log(`ORT-web WebGPU node placements: ${JSON.stringify(placements)}`);
    expect(placements.length).toBeGreaterThanOrEqual(5);
    for (const p of placements) expect(Object.keys(p)).toEqual(["WebGpuExecutionProvider"]);
    expect(Math.max(...placements.map((p) => p.WebGpuExecutionProvider))).toBeGreaterThan(300);
    // the state stayed in GPU buffers between blocks: one upload and one download for the batch
    expect(r.transfers).toMatchObject({
      stateUploads: 1,
      downloads: 1,
      stepDownloads: 0,
      hostOutputs: 0,
      locations: ["gpu-buffer"],
    });
    // issue 18.3: after the last block is queued the status names the wait
    expect(quiet.run.status.some((t) => /^Waiting for the GPU to finish the 5 queued steps/.test(t))).toBe(
      true,
    );
    expect(quiet.run.status.some((t) => /step 5\/5 queued on the GPU/.test(t))).toBe(true);
    expect(await page.textContent("#timings")).toMatch(/GPU wait, transfers/);

    // preview on: each block's state is downloaded, so the preview and the steps follow the GPU
    await page.check("#preview");
    await page.click("#generate");
    const preview = await previewDuringRun(page);
    expect(preview.ended).toBe(false);
    expect(preview.size).toBeGreaterThan(50);
    await page.waitForFunction(
      () => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp.run?.end,
    );
    const live = await state(page);
    expect(live.run!.previews).toBe(5);
    expect(live.run!.status.some((t) => /Waiting for the GPU/.test(t))).toBe(false);
    expect(live.last!.transfers).toMatchObject({ downloads: 1, stepDownloads: 4, hostOutputs: 0 });
    expect(maxAbsDiff(live.last!.images, r.images)).toBe(0);
    const cost = {
      provider: "webgpu (SwiftShader)",
      blocks: 5,
      previewOffMs: r.timings.sampling,
      previewOnMs: live.last!.timings.sampling,
    };
    console.log(`preview cost (WebGPU, H1P2R2, 4 images guided): ${JSON.stringify(cost)}`);
    await writeFile(join(ARTIFACTS, "preview-cost-webgpu.json"), JSON.stringify(cost, null, 2));
    await page.screenshot({ path: join(ARTIFACTS, "web-app-webgpu.png"), fullPage: true });

    // issue 18.4: a long plan (same block graphs), cancelled once a block is done: at most the block
    // under way finishes, then the page is idle and can generate again
    await page.fill("#plan", "H1P12R2");
    await page.click("#generate");
    const cancelled = await cancelWhen(page, `r.events.some((e) => e.phase === "sample")`);
    expect(cancelled.end).toBe("cancelled");
    expect(stepsAfterCancel(cancelled)).toBeLessThanOrEqual(1);
    expect(cancelled.events.filter((e) => e.phase === "sample").length).toBeLessThan(15);
    expect(await page.textContent("#status-line")).toBe("Cancelled.");
    expect(await page.isEnabled("#generate")).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  test("progress and words: the bar strictly increases over a run of two batches, every phase is named; plurals, image ranges, file names from the result; no 404", async () => {
    const { page, errors, failed } = await open(
      browser!,
      "backend=wasm&plan=H1P2&cfg=1&class=2&n=3&batch=3&seed=5",
    );
    await waitFor(page, "ready");
    // a small model: the worker compiles the settings shown at load before the first click
    await page.waitForFunction(
      () => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp.prepared >= 1,
    );
    const ahead = await generate(page);
    // nothing left to compile: no compile phase, the sessions are reused
    expect(ahead.run.events.map((e) => e.phase)).toEqual(["sample", "sample", "sample", "done"]);
    // other settings (batches of 2): compiled in the run, the status says so
    await page.click("#settings summary"); // Batch (and Compile, below) are among the folded settings
    await page.fill("#batch", "2");
    const { run, last } = await generate(page);
    // issue 18.2: the values the bar showed, one per event: compile, 3 steps and done per batch
    expect(run.progress[0]).toBe(0);
    expect(run.progress.at(-1)).toBe(1);
    expect(strictlyIncreasing(run.progress)).toBe(true);
    expect(run.progress.length).toBeGreaterThanOrEqual(1 + 2 * 4);
    expect(run.events.map((e) => `${e.phase}${e.phase === "sample" ? e.step : ""}`)).toEqual([
      "compile",
      ...["sample1", "sample2", "sample3", "done"],
      ...["sample1", "sample2", "sample3", "done"],
    ]);
    // issue 18.7: which images of how many, which step of how many; "images 1-2", not "1-3"
    expect(run.status).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Compiling the model for these settings \(compile block/),
        "Sampling images 1-2 of 3 (batch 1 of 2): step 1/3",
        "Sampling images 1-2 of 3 (batch 1 of 2): step 3/3",
        "Finished images 1-2 of 3; 1 to go.",
        "Sampling image 3 of 3 (batch 2 of 2): step 2/3",
        "Finished 3 images.",
      ]),
    );
    expect(run.status.at(-1)).toMatch(/^Generated 3 images in /);
    expect(last!.seed).toBe(5);
    // the file names come from the run's seed, not from the field now
    await page.fill("#seed", "99");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    expect(download.suggestedFilename()).toBe("flowturbo-seed5-plan-H1P2.png");
    // one image: "1 image"
    await page.fill("#count", "1");
    await page.selectOption("#compile", "model");
    const one = await generate(page);
    expect(one.run.status.at(-1)).toMatch(/^Generated 1 image in /);
    expect(one.run.status).toContain("Sampling the image: step 1/3");
    expect(strictlyIncreasing(one.run.progress)).toBe(true);
    // the favicon is served (no favicon.ico 404), and nothing else failed
    expect(
      await page.evaluate(() => document.querySelector<HTMLLinkElement>("link[rel=icon]")?.href),
    ).toMatch(/favicon\.svg$/);
    expect(failed).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  test("Cancel on WASM: a download stops (the working model stays), a compile stops between sessions, sampling within one block", async () => {
    // a model server whose download never ends by itself
    let closed = false;
    const slow: Server = createServer((_req, res) => {
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": 50_000_000,
        "access-control-allow-origin": "*",
        "cross-origin-resource-policy": "cross-origin",
      });
      res.write(new Uint8Array(1 << 20));
      res.on("close", () => {
        closed = true;
      });
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    try {
      const { page, errors } = await open(browser!, "backend=wasm&plan=H1P2&cfg=1&n=2&class=1");
      await waitFor(page, "ready");
      await page.click("#settings summary");
      await page.selectOption("#model-kind", "url");
      await page.fill(
        "#base-url",
        `http://127.0.0.1:${(slow.address() as AddressInfo).port}/big.safetensors`,
      );
      await page.click("#load");
      await page.waitForFunction(() =>
        /^Downloading big\.safetensors/.test(document.getElementById("status-line")!.textContent!),
      );
      await page.click("#cancel");
      await waitFor(page, "idle");
      const afterLoad = await state(page);
      expect(afterLoad.cancelled).toBe("load");
      expect(afterLoad.ready).toBe(true);
      expect(await page.textContent("#status-line")).toBe(
        "Loading cancelled; still using emoji base.safetensors.",
      );
      await expect.poll(() => closed, { timeout: SAFETY_TIMEOUT_MS }).toBe(true);

      // during the compile: stopped before the next session, no step ran (H1P2R1: block graphs H, P
      // and R, not the H and P compiled ahead for the settings at load)
      await page.fill("#plan", "H1P2R1");
      await page.click("#generate");
      const compiling = await cancelWhen(page, `r.events.some((e) => e.phase === "compile")`);
      expect(compiling.end).toBe("cancelled");
      expect(stepsAfterCancel(compiling)).toBe(0);

      // during sampling at compile block: at most the block under way finishes
      await page.fill("#plan", "H1P40");
      await page.click("#generate");
      const sampling = await cancelWhen(page, `r.events.filter((e) => e.phase === "sample").length >= 2`);
      expect(sampling.end).toBe("cancelled");
      expect(stepsAfterCancel(sampling)).toBeLessThanOrEqual(1);
      expect(sampling.events.filter((e) => e.phase === "sample").length).toBeLessThan(41);
      expect(await page.textContent("#status-line")).toBe("Cancelled.");
      // and the page generates again (same block graphs: H and P)
      await page.fill("#plan", "H1P2");
      const again = await generate(page);
      expect(again.last!.nfe.base).toBe(4);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });

  test("bad fields and URL parameters: a message next to each field, and no run starts", async () => {
    const bad = "backend=wasm&cfg=1000000&n=500&plan=H500P500R500&class=99&seed=-1&preview=maybe&colour=red";
    const { page, errors } = await open(browser!, bad);
    await waitFor(page, "ready");
    const message = (id: string) => page.textContent(`#${id}-error`);
    expect(await message("cfg")).toBe(
      "guidance scale must be a number in 0..100 (1 = no guidance), got 1000000",
    );
    expect(await message("count")).toBe("the number of samples must be in 1..64, got 500");
    expect(await message("plan")).toMatch(/plan H500P500R500 has 1500 steps; at most 1000/);
    expect(await message("class")).toBe("class 99 is not a class of this model (0..23)");
    expect(await message("seed")).toMatch(/^seed must be an integer in 0\.\.\d+, got -1/);
    expect(await message("preview")).toBe("?preview= must be 1 or 0, got 'maybe'");
    expect(await page.textContent("#error")).toMatch(/\?colour= is not a setting of this page/);
    expect(await page.getAttribute("#cfg", "aria-invalid")).toBe("true");
    // the class menu shows what was asked, not a silent "Random"
    expect(await page.$eval("#class", (s: HTMLSelectElement) => s.selectedOptions[0].textContent)).toBe(
      "99 (not valid)",
    );
    await page.click("#generate");
    const refused = await state(page);
    expect(refused.run).toBeUndefined();
    expect(refused.busy).toBe(false);
    expect(await page.textContent("#status-line")).toBe("Not started: fix the marked fields.");
    // empty guidance and seed are missing values, not 0
    await page.fill("#cfg", "");
    await page.fill("#seed", "");
    await page.dispatchEvent("#seed", "change");
    expect(await message("cfg")).toMatch(/it is empty or not a number/);
    expect(await message("seed")).toMatch(/it is empty or not a number/);
    // steps of a baseline are checked too
    await page.selectOption("#method", "heun");
    await page.fill("#steps", "100000");
    await page.dispatchEvent("#steps", "change");
    expect(await message("steps")).toBe("steps must be an integer in 1..1000, got 100000");
    await page.click("#generate");
    expect((await state(page)).run).toBeUndefined();
    await page.close();

    // menus: a value no menu has is shown as given and named with the menu's choices; a bad backend loads nothing
    const menus = await open(browser!, "backend=bogus&method=bogus&compile=bogus");
    await menus.page.waitForFunction(() =>
      /Fix the marked settings/.test(document.getElementById("status-line")!.textContent!),
    );
    expect(await menus.page.textContent("#backend-error")).toBe(
      "backend must be auto, webgpu or wasm, got 'bogus'",
    );
    expect(
      await menus.page.$eval("#backend", (s: HTMLSelectElement) => s.selectedOptions[0].textContent),
    ).toBe("bogus (not valid)");
    expect((await state(menus.page)).loads).toBe(0);
    await menus.page.selectOption("#backend", "wasm"); // choosing one loads the model
    await waitFor(menus.page, "ready");
    expect(await menus.page.textContent("#method-error")).toBe(
      "method must be plan, euler, midpoint, heun, rk4, rk4_38, dopri5 or sde, got 'bogus'",
    );
    expect(await menus.page.textContent("#compile-error")).toBe(
      "compile must be auto, none, model or block, got 'bogus'",
    );
    // the method menu is the pipeline's list
    expect(
      await menus.page.$$eval("#method option", (os) => os.map((o) => (o as HTMLOptionElement).value)),
    ).toEqual(["plan", "euler", "midpoint", "heun", "rk4", "rk4_38", "dopri5", "sde", "bogus"]);
    await menus.page.click("#generate");
    expect((await state(menus.page)).run).toBeUndefined();
    expect(errors.concat(menus.errors)).toEqual([]);
    await menus.page.close();
  });

  test("changing Backend reloads the model on it; a failed load keeps the working model; text that is not a URL is refused", async (ctx) => {
    const { page, errors } = await open(browser!, "backend=wasm&plan=H1P2&n=1");
    await waitFor(page, "ready");
    expect((await state(page)).providers).toEqual(["wasm"]);
    await page.click("#settings summary");
    await page.selectOption("#backend", "auto");
    await page.waitForFunction(
      () => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp.loads === 2,
    );
    await waitFor(page, "ready");
    const auto = await state(page);
    needsWebGpu(ctx, auto.webgpu?.available ? undefined : `the page says: ${auto.webgpu?.reason}`);
    expect(auto.providers).toEqual(["webgpu", "wasm"]);
    expect(auto.loadedBackend).toBe("auto");
    expect(await page.textContent("#backend-line")).toMatch(/Providers: webgpu -> wasm/);
    await page.selectOption("#backend", "wasm");
    await page.waitForFunction(
      () => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp.loads === 3,
    );
    await waitFor(page, "ready");

    await page.selectOption("#model-kind", "url");
    await page.fill("#base-url", "not a url at all");
    await page.click("#load");
    expect(await page.textContent("#base-url-error")).toMatch(
      /^'not a url at all' is not a URL \(it has spaces\)/,
    );
    expect((await state(page)).activity).toBe("idle"); // nothing was downloaded
    await page.fill("#base-url", "/models/missing.safetensors");
    await page.click("#load");
    await waitFor(page, "error");
    await waitFor(page, "idle");
    expect(await page.textContent("#error")).toMatch(/could not download .*missing\.safetensors: HTTP 404/);
    expect(await page.textContent("#status-line")).toBe(
      "The model could not be loaded; still using emoji base.safetensors on wasm.",
    );
    const kept = await state(page);
    expect(kept.ready).toBe(true);
    expect(kept.model?.file).toBe("emoji base.safetensors");
    expect(await page.isEnabled("#generate")).toBe(true);
    expect(errors).toEqual([]);
    await page.close();

    // no model yet and a bad URL: a message, not a blank page
    const missing = await open(browser!, "backend=wasm&base=/models/missing.safetensors");
    await waitFor(missing.page, "error");
    expect(await missing.page.textContent("#error")).toMatch(
      /could not download .*missing\.safetensors: HTTP 404/,
    );
    expect(await missing.page.textContent("#status-line")).toBe("The model could not be loaded.");
    expect(await missing.page.isDisabled("#generate")).toBe(true);
    await missing.page.screenshot({ path: join(ARTIFACTS, "web-app-bad-url.png"), fullPage: true });
    await missing.page.close();
  });

  test("layout: Generate and the status line on the first screen at 1280x800 and 390x844, one column on a phone; screenshots", async () => {
    for (const [name, viewport, isMobile] of [
      ["desktop", DESKTOP, false],
      ["phone", PHONE, true],
    ] as const) {
      const { page, errors } = await open(browser!, "backend=wasm", { viewport, isMobile });
      await waitFor(page, "ready");
      const { last } = await generate(page); // the default settings, as a new user's first click
      expect(last!.labels).toHaveLength(9);
      const layout = await page.evaluate(() => {
        const box = (id: string) => document.getElementById(id)!.getBoundingClientRect();
        const unlabelled = [...document.querySelectorAll("input, select")]
          .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute("aria-label"))
          .map((el) => el.id);
        const inView = (id: string) => box(id).top >= 0 && box(id).bottom <= window.innerHeight;
        return {
          generate: inView("generate"),
          status: inView("status-line"),
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          unlabelled,
          stacked: box("output").top >= box("controls").bottom - 1,
          resultsTop: Math.round(box("results").top),
        };
      });
      expect(layout, name).toMatchObject({ generate: true, status: true, overflow: 0, unlabelled: [] });
      expect(layout.stacked, name).toBe(name === "phone");
      // the expert settings are folded away
      expect(await page.isVisible("#compile")).toBe(false);
      await page.screenshot({ path: join(DOCS, `web-app-${name}.png`) }); // the README shows these
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  test("extras: captions, enlarge and save one image, cache size and clear, first-run notice, WASM threads, intro and gallery", async () => {
    const { page, errors } = await open(browser!, "backend=wasm&plan=H1P2&cfg=1&n=2&seed=4&compile=model");
    await waitFor(page, "ready");
    expect(await page.isVisible(".intro")).toBe(true);
    expect(
      await page.$eval("#gallery img", (img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
    ).toBe(true);
    expect(await page.textContent("#notice")).toMatch(
      /first run with new settings compiles the model .*usually a few seconds/,
    );
    expect(await page.textContent("#backend-line")).toMatch(/WASM: \d+ threads?\b/);
    const { last } = await generate(page);
    expect(await page.textContent("#notice")).toMatch(/about .* s last time/);
    const names = await classNames(page);
    const captions = await page.locator("#results figcaption").allTextContents();
    expect(captions).toHaveLength(2);
    expect(captions.every((c) => names.includes(c))).toBe(true);
    expect(captions).toEqual(last!.labels.map((l) => names[l]));
    // enlarge the second image, save it
    await page.click("#results li:nth-child(2) button");
    expect(await page.isVisible("#viewer")).toBe(true);
    expect(await page.textContent("#viewer-caption")).toBe(`2. ${captions[1]}`);
    const [saved] = await Promise.all([page.waitForEvent("download"), page.click("#viewer-save")]);
    expect(saved.suggestedFilename()).toMatch(/^flowturbo-seed4-plan-H1P2-2-[\w-]+\.png$/);
    await page.keyboard.press("Escape");
    expect(await page.isVisible("#viewer")).toBe(false);
    // the cache: its size, and a button that empties it
    await page.click("#settings summary");
    expect(await page.textContent("#cache-size")).toMatch(/^Model cache: 2 files, \d+\.\d MB$/);
    await page.click("#clear-cache");
    await page.waitForFunction(
      () => document.getElementById("cache-size")!.textContent === "Model cache: empty",
    );
    expect(await page.textContent("#status-line")).toMatch(/^Removed 2 cached model files/);
    expect(
      await page.evaluate(async () => (await (await caches.open("flowturbo-models")).keys()).length),
    ).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  test("the dev server (pnpm dev) serves a working app: threaded WASM in a cross-origin isolated page", async () => {
    const dev = await startDevServer();
    try {
      const page = await browser!.newPage();
      page.setDefaultTimeout(SAFETY_TIMEOUT_MS);
      await page.goto(`${dev.url}?backend=wasm&n=2&plan=H1P2R2&preview=0`);
      await waitFor(page, "ready");
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      const { last } = await generate(page);
      expect(last!.provider).toBe("wasm");
      await page.close();
    } finally {
      await dev.close();
    }
  });

  test("without WebGPU: auto falls back to WASM and says why; asking for WebGPU explains", async () => {
    const plain = await launchChromium({ webgpu: false });
    try {
      const { page } = await open(plain, `backend=auto&${SETTINGS.replace("n=4&batch=4", "n=1&batch=1")}`);
      await waitFor(page, "ready");
      expect(await page.textContent("#backend-line")).toMatch(
        /WebGPU not used: .*(no WebGPU|no GPU adapter)/,
      );
      const { last } = await generate(page);
      expect(last!.provider).toBe("wasm");
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
