// Benchmark (not a test): the built web app in headless Chromium, as a returning user meets it. For each
// backend (WASM, WebGPU), in a fresh browser profile on disk: a first visit (the model is downloaded into
// Cache Storage), then a second visit in the same profile (model cached, ORT's files in the HTTP cache,
// ORT's compiled WebAssembly in Chromium's code cache): page open -> ready -> first image with the default
// settings (9 images, H1P5R3, compile auto), then more Generate clicks with the same settings (sessions
// reused). BENCH_INCOGNITO=1 runs both visits in an incognito-like context instead, which keeps no
// compiled code between visits. Prints a table and one JSON line; `flowturbo sample` on the same images
// is the reference for "per image". WebGPU here is SwiftShader (a CPU renderer): its figures say nothing
// about GPUs.
//   pnpm --filter @flowturbo/web bench     (BENCH_BACKENDS=wasm,webgpu  BENCH_GENERATES=3  BENCH_QUERY=...
//                                          BENCH_FIRST_CLICK_DELAY_MS=0: a pause before the first click)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { Writable } from "node:stream";
import { launchChromium, launchChromiumProfile, serveFiles } from "@flowturbo/browser-test";
import { COMMANDS, runCli } from "@flowturbo/cli";
import type { BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import type { FromWorker } from "../src/protocol";

type Result = Extract<FromWorker, { type: "result" }>;
interface AppState {
  ready: boolean;
  busy: boolean;
  error?: string;
  generations: number;
  prepared: number;
  lastPrepared?: { ms: number };
  last?: Result;
  webgpu?: { available: boolean; reason?: string };
}

const APP_ROOT = join(import.meta.dirname, "..");
const BACKENDS = (process.env.BENCH_BACKENDS ?? "wasm,webgpu").split(",");
const GENERATES = Number(process.env.BENCH_GENERATES ?? 3);
/** The app's default settings (index.html): 9 images, plan H1P5R3, compile auto, the model's cfg (1). */
const SETTINGS = { n: 9, plan: "H1P5R3", seed: 0 };
const QUERY = process.env.BENCH_QUERY ?? "";
const INCOGNITO = process.env.BENCH_INCOGNITO === "1";
/** A user's pause between ready and the first click (default 0: clicked as soon as it could be). */
const FIRST_CLICK_DELAY_MS = Number(process.env.BENCH_FIRST_CLICK_DELAY_MS ?? 0);
const TIMEOUT_MS = 10 * 60_000;

const load = () => loadavg()[0].toFixed(1);
function progress(msg: string): void {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1)}s, load ${load()}] ${msg}\n`);
}

/** Runs the CLI in this process; its --json line. */
async function cliJson(argv: string[]): Promise<Record<string, unknown>> {
  let out = "";
  const stdout = new Writable({
    write(chunk, _enc, cb) {
      out += chunk;
      cb();
    },
  });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const code = await runCli([...argv, "--json"], COMMANDS, { stdout, stderr: sink });
  if (code !== 0) throw new Error(`flowturbo ${argv.join(" ")} exited with ${code}`);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

const N = String(SETTINGS.n);

/**
 * `flowturbo sample` on the same images: ms per sample of one command, as a CLI user meets it (its
 * sampling time: sessions compiled before, their first runs included).
 */
async function cliMsPerSample(): Promise<number> {
  const out = join(APP_ROOT, "test-artifacts", "bench-cli.png");
  const argv = ["sample", "--plan", SETTINGS.plan, "--n", N, "--batch", N, "--seed", String(SETTINGS.seed)];
  return (await cliJson([...argv, "-o", out])).msPerSample as number;
}

/** `flowturbo bench` on as many images: ms per image warm (median of 5 runs of the same sessions). */
async function cliWarmMsPerImage(): Promise<number> {
  // --heun 2: the cheapest baseline (the command always runs one)
  const argv = ["bench", "--plans", SETTINGS.plan, "--heun", "2", "--n", N, "--repeats", "5"];
  const rows = (await cliJson([...argv, "--seed", String(SETTINGS.seed)])).rows as {
    method: string;
    msPerImage: number;
  }[];
  return rows.find((r) => r.method === SETTINGS.plan)!.msPerImage;
}

const state = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { flowturboApp: AppState }).flowturboApp);

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const s = (globalThis as unknown as { flowturboApp?: AppState }).flowturboApp;
      return (s?.ready && !s.busy) || s?.error !== undefined;
    },
    undefined,
    { timeout: TIMEOUT_MS, polling: 20 },
  );
  const s = await state(page);
  if (s.error) throw new Error(`the page reported: ${s.error}`);
}

/** Clicks Generate; resolves with the result and the wall time the page measured from click to result. */
async function generate(page: Page): Promise<{ result: Result; wallMs: number }> {
  const before = (await state(page)).generations;
  const t0 = performance.now();
  await page.click("#generate");
  await page.waitForFunction(
    (n) => {
      const s = (globalThis as unknown as { flowturboApp: AppState }).flowturboApp;
      return s.generations > n || s.error !== undefined;
    },
    before,
    { timeout: TIMEOUT_MS, polling: 20 },
  );
  const wallMs = performance.now() - t0;
  const s = await state(page);
  if (s.error) throw new Error(`the page reported: ${s.error}`);
  return { result: s.last!, wallMs };
}

interface Visit {
  /** Page navigation -> the model is loaded and the Generate button enabled. */
  readyMs: number;
  /** Page navigation -> the first image is drawn (Generate clicked at ready + FIRST_CLICK_DELAY_MS). */
  firstImageMs: number;
  /** The first Generate: click -> image. */
  firstClickToImageMs: number;
  /**
   * Session creation for the default settings (compiling their block graphs): in the first Generate, or
   * ahead of it (the app compiles a small model's settings at load: the first Generate then waits for it).
   */
  sessionMs: number;
  /** The sessions were compiled ahead of the first Generate. */
  compiledAhead: boolean;
  /** The first Generate: its model runs (the first runs of a page include WASM warm-up). */
  firstRunMs: { base: number; refiner: number };
  /** Later Generate clicks (sessions reused): wall time, click to result. */
  againMs: number[];
  /** The page's stage timings of those later Generates (setup, base, refiner, decode, total). */
  againTimings: Result["timings"][];
  /** ms per base-model forward (batch of 9) in the later Generates: timings.base / nfe.base, median. */
  msPerBaseForward: number;
  provider: string;
  compile: string;
  nfe: { base: number; refiner: number };
  load: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function visit(ctx: BrowserContext, url: string, generates: number): Promise<Visit> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const t0 = performance.now();
  await page.goto(url);
  await waitReady(page);
  const readyMs = performance.now() - t0;
  if (FIRST_CLICK_DELAY_MS > 0) await page.waitForTimeout(FIRST_CLICK_DELAY_MS);
  const first = await generate(page);
  const firstImageMs = performance.now() - t0;
  const again: { result: Result; wallMs: number }[] = [];
  for (let i = 0; i < generates; i++) again.push(await generate(page));
  const ahead = (await state(page)).lastPrepared;
  await page.close();
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  const r = first.result;
  const compiledAhead = r.timings.setup < 1 && ahead !== undefined;
  return {
    readyMs,
    firstImageMs,
    firstClickToImageMs: first.wallMs,
    sessionMs: compiledAhead ? ahead.ms : r.timings.setup,
    compiledAhead,
    firstRunMs: { base: r.timings.base, refiner: r.timings.refiner },
    againMs: again.map((a) => a.wallMs),
    againTimings: again.map((a) => a.result.timings),
    msPerBaseForward: again.length
      ? median(again.map((a) => a.result.timings.base / Math.max(1, a.result.nfe.base)))
      : r.timings.base / Math.max(1, r.nfe.base),
    provider: r.provider,
    compile: r.compile,
    nfe: r.nfe,
    load: load(),
  };
}

async function main() {
  progress(`flowturbo sample --plan ${SETTINGS.plan} --n ${SETTINGS.n} (reference)`);
  const cli = Math.min(await cliMsPerSample(), await cliMsPerSample());
  const cliWarm = await cliWarmMsPerImage();
  progress("building the app (vite)");
  const dir = join(APP_ROOT, "test-artifacts", "bench-build");
  await build({ root: APP_ROOT, logLevel: "error", build: { outDir: dir, emptyOutDir: true } });
  // as a static host serves a Vite build: hashed assets and ORT's files cacheable, the page revalidated
  const server = await serveFiles(
    (path) => {
      const file = normalize(join(dir, path === "/" ? "index.html" : path));
      if (!file.startsWith(dir) || !existsSync(file)) return undefined;
      try {
        return readFileSync(file);
      } catch {
        return undefined;
      }
    },
    {
      cacheControl: (path) =>
        path.startsWith("/assets/") || path.startsWith("/ort/")
          ? "public, max-age=31536000, immutable"
          : "no-cache",
    },
  );
  const browser = INCOGNITO ? await launchChromium() : undefined;
  const rows: { backend: string; cold: Visit; cached: Visit }[] = [];
  try {
    for (const backend of BACKENDS) {
      const profile = browser ? undefined : mkdtempSync(join(tmpdir(), "flowturbo-bench-profile-"));
      const ctx = browser ? await browser.newContext() : await launchChromiumProfile(profile!);
      try {
        const url = `${server.url}?backend=${backend}${QUERY ? `&${QUERY}` : ""}`;
        progress(`${backend}: first visit (model downloaded)`);
        const cold = await visit(ctx, url, 0);
        progress(`${backend}: second visit (model cached)`);
        const cached = await visit(ctx, url, GENERATES);
        rows.push({ backend, cold, cached });
      } finally {
        await ctx.close();
        if (profile) rmSync(profile, { recursive: true, force: true });
      }
    }
  } finally {
    await browser?.close();
    server.close();
  }

  const n = SETTINGS.n;
  const f = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
  console.log(
    `\nWeb app in headless Chromium, ${n} images ${SETTINGS.plan} (compile auto), model cached (second visit, ${INCOGNITO ? "incognito context" : "same browser profile"}); first click ${FIRST_CLICK_DELAY_MS ? `${FIRST_CLICK_DELAY_MS} ms after ready` : "at ready"}.`,
  );
  console.log(
    `flowturbo sample (ORT CPU, native) on the same images: ${f(cli)} ms/image, ${f(cli * n)} ms for ${n} (one command, best of 2); ` +
      `warm (flowturbo bench, sessions reused): ${f(cliWarm)} ms/image.`,
  );
  const head = [
    "backend",
    "ready",
    "1st image",
    "click->1st",
    "sessions",
    "2nd Generate",
    "ms/image",
    "x CLI",
    "x CLI warm",
    "ms/forward",
    "load",
  ];
  console.log(`\n${head.map((h, i) => (i ? h.padStart(13) : h.padEnd(22))).join("")}`);
  for (const { backend, cold, cached } of rows) {
    const second = cached.againMs[0] ?? Number.NaN;
    const again = median(cached.againMs);
    const cells = [
      f(cached.readyMs),
      f(cached.firstImageMs),
      f(cached.firstClickToImageMs),
      `${f(cached.sessionMs)}${cached.compiledAhead ? "*" : ""}`,
      f(second),
      f(again / n),
      (again / (cli * n)).toFixed(2),
      (again / (cliWarm * n)).toFixed(2),
      f(cached.msPerBaseForward),
      cached.load,
    ];
    console.log(
      `${`${backend} (${cached.provider}, ${cached.compile})`.padEnd(22)}${cells.map((c) => c.padStart(13)).join("")}`,
    );
    console.log(
      `${"  first visit".padEnd(22)}${[f(cold.readyMs), f(cold.firstImageMs), f(cold.firstClickToImageMs), `${f(cold.sessionMs)}${cold.compiledAhead ? "*" : ""}`].map((c) => c.padStart(13)).join("")}`,
    );
  }
  console.log(
    "\nms, wall clock: ready = page open -> Generate enabled; 1st image = page open -> first image drawn; " +
      "click->1st = that first Generate's click -> image; sessions = compiling the graphs of those settings (* = ahead of the click, at load); 2nd Generate = " +
      "click -> image, sessions reused; ms/image and x CLI from the median of the later Generates (x CLI: " +
      "against one `flowturbo sample` command, x CLI warm: against `flowturbo bench`); " +
      "ms/forward = base-model time / base NFE (batch of 9).",
  );
  console.log(
    JSON.stringify({
      bench: "web-browser",
      settings: SETTINGS,
      query: QUERY,
      profile: INCOGNITO ? "incognito" : "persistent",
      firstClickDelayMs: FIRST_CLICK_DELAY_MS,
      cliMsPerImage: cli,
      cliWarmMsPerImage: cliWarm,
      rows,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
