// Figures and numbers of the embedded emoji model's card (models/emoji/README.md): the loss curves
// (loss.png), sample grids (samples-*.png: one row per class) and FlowTurbo plans vs Heun against a tight
// dopri5 solve from the same noise (eval.json), all on ORT CPU.
// Usage: pnpm card:emoji --dir ../../models/emoji [--base-run DIR --refiner-run DIR] [--n 36] [--seed 0]
//        [--cfg 1] [--threads 1] [--repeats 3]
// --base-run / --refiner-run (train-base / train-refiner --out folders) first copy the embedded files into
// --dir: base.safetensors (the base run's EMA weights), refiner.safetensors (the refiner run's non-EMA
// weights, as FlowTurbo uses) and their logs thinned to every 10th step (base-log.jsonl, refiner-log.jsonl).
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import type { Session } from "@flowturbo/core";
import { encodePng, makeGrid } from "@flowturbo/data";
import { loadModelFile } from "@flowturbo/sit/node";
import { Tensor } from "@flowturbo/tensor";
import { modelGraph, parseMethod, type SamplingMethod, sample } from "../src";

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: "../../models/emoji" },
    "base-run": { type: "string" },
    "refiner-run": { type: "string" },
    n: { type: "string", default: "36" },
    seed: { type: "string", default: "0" },
    cfg: { type: "string", default: "1" },
    threads: { type: "string", default: "1" },
    repeats: { type: "string", default: "3" },
    heun: { type: "string", default: "1,2,3,4,5,6,8,10,12" },
    plans: {
      type: "string",
      default:
        "H1P1R1,H1P2R1,H1P2R2,H1P3R2,H2P3R2,H1P5R3,H2P4R3,H3P5R3,H3P7R4,H1P2,H1P3,H1P4,H1P6,H2P5,H2P8,H3P9",
    },
    "grid-plan": { type: "string", default: "H2P4R3" },
    "grid-cfg": { type: "string", default: "2" },
    "skip-figures": { type: "boolean", default: false },
  },
});
const dir = values.dir!;
const n = Number(values.n);
const seed = Number(values.seed);
const cfgScale = Number(values.cfg);
const repeats = Number(values.repeats);

// ---------------------------------------------------------------- drawing: a canvas, lines, a 3x5 font
class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, c: readonly number[]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(c, (y * this.width + x) * 3);
  }
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[], thick = 1): void {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let d = 0; d < thick; d++) this.set(x, y + d, c);
    }
  }
  text(s: string, x: number, y: number, c: readonly number[], scale = 2): void {
    for (const ch of s.toLowerCase()) {
      const g = FONT[ch];
      if (g)
        for (let r = 0; r < 5; r++)
          for (let k = 0; k < 3; k++)
            if ((g[r] >> (2 - k)) & 1)
              for (let a = 0; a < scale; a++)
                for (let b = 0; b < scale; b++) this.set(x + k * scale + a, y + r * scale + b, c);
      x += 4 * scale;
    }
  }
}

// 3x5 glyphs, one row per number (bits: left to right)
const FONT: Record<string, number[]> = {
  "0": [7, 5, 5, 5, 7],
  "1": [2, 6, 2, 2, 7],
  "2": [7, 1, 7, 4, 7],
  "3": [7, 1, 7, 1, 7],
  "4": [5, 5, 7, 1, 1],
  "5": [7, 4, 7, 1, 7],
  "6": [7, 4, 7, 5, 7],
  "7": [7, 1, 1, 1, 1],
  "8": [7, 5, 7, 5, 7],
  "9": [7, 5, 7, 1, 7],
  ".": [0, 0, 0, 0, 2],
  "-": [0, 0, 7, 0, 0],
  e: [7, 4, 7, 4, 7],
  a: [2, 5, 7, 5, 5],
  b: [6, 5, 6, 5, 6],
  s: [7, 4, 7, 1, 7],
  r: [6, 5, 6, 5, 5],
  f: [7, 4, 6, 4, 4],
  i: [7, 2, 2, 2, 7],
  n: [6, 5, 5, 5, 5],
  l: [4, 4, 4, 4, 7],
  o: [7, 5, 5, 5, 7],
  t: [7, 2, 2, 2, 2],
  p: [7, 5, 7, 4, 4],
  k: [5, 5, 6, 5, 5],
  x: [5, 5, 2, 5, 5],
  "(": [1, 2, 2, 2, 1],
  ")": [4, 2, 2, 2, 4],
  m: [5, 7, 7, 5, 5],
  g: [7, 4, 5, 5, 7],
  h: [5, 5, 7, 5, 5],
  c: [7, 4, 4, 4, 7],
  d: [6, 5, 5, 5, 6],
  u: [5, 5, 5, 5, 7],
  v: [5, 5, 5, 5, 2],
  w: [5, 5, 7, 7, 5],
  y: [5, 5, 2, 2, 2],
  "/": [1, 1, 2, 4, 4],
  ":": [0, 2, 0, 2, 0],
  " ": [0, 0, 0, 0, 0],
};

interface LogLine {
  step: number;
  loss: number;
}

async function readLog(path: string): Promise<LogLine[]> {
  return (await readFile(path, "utf8"))
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);
}

/** Loss panel: raw losses as light dots, a moving average as a line; log10 y axis. */
function lossPanel(
  cv: Canvas,
  log: LogLine[],
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  color: number[],
) {
  const lo = Math.floor(Math.log10(Math.min(...log.map((l) => l.loss))));
  const hi = Math.ceil(Math.log10(Math.max(...log.map((l) => l.loss))));
  const maxStep = log[log.length - 1].step;
  const px = (s: number) => x0 + (w * s) / maxStep;
  const py = (v: number) => y0 + h - (h * (Math.log10(v) - lo)) / (hi - lo);
  for (let d = lo; d <= hi; d++) {
    cv.line(x0, py(10 ** d), x0 + w, py(10 ** d), [225, 225, 225]);
    cv.text(`1e${d}`, x0 - 40, py(10 ** d) - 5, [80, 80, 80]);
  }
  for (let k = 0; k <= 4; k++) {
    const s = Math.round((maxStep * k) / 4);
    cv.text(String(s), px(s) - 8, y0 + h + 8, [80, 80, 80]);
  }
  cv.line(x0, y0, x0, y0 + h, [0, 0, 0]);
  cv.line(x0, y0 + h, x0 + w, y0 + h, [0, 0, 0]);
  const light = color.map((c) => Math.round(c + (255 - c) * 0.7));
  for (const l of log) cv.set(px(l.step), py(l.loss), light);
  const win = Math.max(1, Math.round(log.length / 100));
  let prev: [number, number] | undefined;
  let sum = 0;
  for (let i = 0; i < log.length; i++) {
    sum += log[i].loss;
    if (i >= win) sum -= log[i - win].loss;
    if (i < win - 1) continue;
    const p: [number, number] = [px(log[i].step), py(sum / win)];
    if (prev) cv.line(prev[0], prev[1], p[0], p[1], color, 2);
    prev = p;
  }
  cv.text(title, x0 + 10, y0 - 18, [0, 0, 0]);
}

// ---------------------------------------------------------------- files from the training runs
async function thinLog(from: string, to: string, every = 10) {
  const lines = (await readFile(from, "utf8")).trim().split("\n").filter(Boolean);
  const kept = lines.filter(
    (l, i) => (JSON.parse(l) as LogLine).step % every === 0 || i === lines.length - 1,
  );
  await writeFile(to, `${[...new Set(kept)].join("\n")}\n`);
}
if (values["base-run"]) {
  await copyFile(join(values["base-run"], "ema.safetensors"), join(dir, "base.safetensors"));
  await thinLog(join(values["base-run"], "log.jsonl"), join(dir, "base-log.jsonl"));
}
if (values["refiner-run"]) {
  await copyFile(join(values["refiner-run"], "model.safetensors"), join(dir, "refiner.safetensors"));
  await thinLog(join(values["refiner-run"], "log.jsonl"), join(dir, "refiner-log.jsonl"));
}

// ---------------------------------------------------------------- models
const base = await loadModelFile(join(dir, "base.safetensors"));
const refiner = await loadModelFile(join(dir, "refiner.safetensors"));
const backend = createNodeBackend({ threads: Number(values.threads) });
const baseSession = await backend.load({ graph: modelGraph(base), weights: base.weights });
const refinerSession = await backend.load({ graph: modelGraph(refiner), weights: refiner.weights });
const shape = [base.config.keepChannels, base.config.inputSize, base.config.inputSize];
const numClasses = base.config.numClasses;

async function run(method: SamplingMethod, labels: number[], scale = cfgScale) {
  return sample({
    base: baseSession,
    refiner: refinerSession,
    shape,
    labels,
    nullClass: numClasses,
    method,
    seed,
    cfgScale: scale,
  });
}

if (!values["skip-figures"]) {
  const cv = new Canvas(900, 300);
  lossPanel(
    cv,
    await readLog(join(dir, "base-log.jsonl")),
    60,
    40,
    360,
    220,
    "base: velocity loss",
    [31, 119, 180],
  );
  lossPanel(
    cv,
    await readLog(join(dir, "refiner-log.jsonl")),
    520,
    40,
    360,
    220,
    "refiner loss",
    [214, 39, 40],
  );
  await writeFile(
    join(dir, "loss.png"),
    await encodePng({ width: cv.width, height: cv.height, data: cv.data }),
  );
  // grids: one row per class, 8 samples each
  const labels = Array.from({ length: numClasses * 8 }, (_, i) => Math.floor(i / 8));
  for (const [name, method] of [
    ["dopri5", parseMethod({ solver: "dopri5" })],
    [values["grid-plan"]!, parseMethod({ plan: values["grid-plan"]! })],
  ] as [string, SamplingMethod][]) {
    const r = await run(method, labels, Number(values["grid-cfg"]));
    const grid = makeGrid(
      new Tensor("float32", [labels.length, ...shape], r.latents.data as Float32Array),
      8,
      {
        padding: 2,
        padValue: 255,
      },
    );
    // 2x nearest upscale for viewing
    const up = new Uint8Array(grid.width * grid.height * 12);
    for (let y = 0; y < 2 * grid.height; y++)
      for (let x = 0; x < 2 * grid.width; x++)
        up.set(
          grid.data.subarray(
            ((y >> 1) * grid.width + (x >> 1)) * 3,
            ((y >> 1) * grid.width + (x >> 1)) * 3 + 3,
          ),
          (y * 2 * grid.width + x) * 3,
        );
    await writeFile(
      join(dir, `samples-${name.toLowerCase()}.png`),
      await encodePng({ width: 2 * grid.width, height: 2 * grid.height, data: up }),
    );
    console.log(
      `wrote samples-${name.toLowerCase()}.png (${labels.length} samples, NFE ${JSON.stringify(r.nfe)})`,
    );
  }
}

// ---------------------------------------------------------------- FlowTurbo vs Heun against dopri5
const labels = Array.from({ length: n }, (_, i) => i % numClasses);
const ref = await run(parseMethod({ solver: "dopri5", atol: 1e-7, rtol: 1e-7 }), labels);
const refX = ref.latents.data as Float32Array;
console.log(
  `reference: dopri5 atol = rtol = 1e-7, ${ref.nfe.base} evaluations, ${n} samples, cfg ${cfgScale}`,
);

// per-evaluation cost of each network at this batch (median of timed single calls)
async function callMs(s: Session, feeds: Record<string, Tensor>): Promise<number> {
  await s.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[3];
}
const rows = cfgScale === 1 ? n : 2 * n;
const x = new Tensor(
  "float32",
  [rows, ...shape],
  new Float32Array(rows * shape[0] * shape[1] * shape[2]).fill(0.1),
);
const t = new Tensor("float32", [rows], new Float32Array(rows).fill(0.5));
const y = Tensor.from("int64", [rows], new Array(rows).fill(1));
const baseMs = await callMs(baseSession, { x, t, y });
const refinerMs = await callMs(refinerSession, { x, t, v: x, y });
console.log(
  `one base evaluation ${baseMs.toFixed(1)} ms, one refiner evaluation ${refinerMs.toFixed(1)} ms (batch ${rows})`,
);

interface Row {
  method: string;
  base: number;
  refiner: number;
  /** Model time in base-evaluation units: base + refiner * (refiner ms / base ms). */
  cost: number;
  /** Measured wall time of the whole solve (median of repeats). */
  ms: number;
  rmse: number;
  maxAbs: number;
}
const results: Row[] = [];
async function evaluate(name: string, method: SamplingMethod) {
  const ts: number[] = [];
  let out: Awaited<ReturnType<typeof run>> | undefined;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    out = await run(method, labels);
    ts.push(performance.now() - t0);
  }
  const got = out!.latents.data as Float32Array;
  let se = 0;
  let mx = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i] - refX[i];
    se += d * d;
    mx = Math.max(mx, Math.abs(d));
  }
  const row: Row = {
    method: name,
    base: out!.nfe.base,
    refiner: out!.nfe.refiner,
    cost: out!.nfe.base + (out!.nfe.refiner * refinerMs) / baseMs,
    ms: ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)],
    rmse: Math.sqrt(se / got.length),
    maxAbs: mx,
  };
  results.push(row);
  console.log(
    `${name.padEnd(8)} base ${String(row.base).padStart(3)} refiner ${String(row.refiner).padStart(2)} cost ${row.cost.toFixed(2).padStart(6)} ${row.ms.toFixed(0).padStart(6)} ms  RMSE ${row.rmse.toExponential(3)}  max ${row.maxAbs.toExponential(2)}`,
  );
}
for (const k of values.heun!.split(",").map(Number))
  await evaluate(`H${k}`, parseMethod({ solver: "heun", steps: k }));
for (const p of values.plans!.split(",")) await evaluate(p, parseMethod({ plan: p }));

// each plan against Heun at the same cost: log-log interpolation of Heun's error between its neighbours
const heun = results.filter((r) => /^H\d+$/.test(r.method)).sort((a, b) => a.cost - b.cost);
const heunAt = (cost: number, key: "cost" | "ms"): number | undefined => {
  const s = [...heun].sort((a, b) => a[key] - b[key]);
  for (let i = 0; i + 1 < s.length; i++) {
    const [a, b] = [s[i], s[i + 1]];
    if (cost >= a[key] && cost <= b[key]) {
      const f = (Math.log(cost) - Math.log(a[key])) / (Math.log(b[key]) - Math.log(a[key]));
      return Math.exp(Math.log(a.rmse) + f * (Math.log(b.rmse) - Math.log(a.rmse)));
    }
  }
  return undefined;
};
const comparison = results
  .filter((r) => !/^H\d+$/.test(r.method))
  .map((r) => ({
    plan: r.method,
    cost: r.cost,
    ms: r.ms,
    rmse: r.rmse,
    heunRmseAtEqualCost: heunAt(r.cost, "cost"),
    heunRmseAtEqualMs: heunAt(r.ms, "ms"),
  }));
for (const c of comparison)
  console.log(
    `${c.plan.padEnd(8)} RMSE ${c.rmse.toExponential(3)} vs Heun at equal cost ${c.heunRmseAtEqualCost?.toExponential(3) ?? "n/a"}, at equal measured time ${c.heunRmseAtEqualMs?.toExponential(3) ?? "n/a"}`,
  );
await backend.close();
const summary = {
  bench: "emoji-card",
  samples: n,
  seed,
  cfgScale,
  reference: { solver: "dopri5", atol: 1e-7, rtol: 1e-7, nfe: ref.nfe.base },
  baseMs,
  refinerMs,
  results,
  comparison,
};
await writeFile(join(dir, `eval-cfg${cfgScale}.json`), `${JSON.stringify(summary, null, 2)}\n`);
console.log(JSON.stringify(summary));
