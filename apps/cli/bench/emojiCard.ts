// Figures and numbers of the embedded emoji model's card (models/emoji/README.md), in stages that keep
// their results in --dir/card.json (a stage can be rerun alone):
//   files   copy the trained files into --dir (the base run's EMA weights, the refiner run's non-EMA weights,
//           logs thinned to every 10th step) and record the recommended CFG (--set-cfg) in the base file's
//           "flowturbo.sampling" metadata
//   cfg     FD-emoji / class agreement of the default plan over --cfg-grid (which CFG to recommend)
//   table   FD-emoji / class agreement of every --methods entry at --cfg (paper Tables 1/2: quality)
//   timing  ms/image of every method at --timing-batch (median of --repeats; block-compiled plans and Heun)
//   grids   sample grids at --cfg, one row per class (default plan and dopri5)
//   plots   fd-latency.svg (FD-emoji vs ms/image), loss.svg (training losses)
// Usage (from apps/cli): node --conditions=@flowturbo/source --import tsx bench/emojiCard.ts --stage table --cfg 2
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import { SAMPLING_DEFAULTS_KEY, samplingDefaultsOf } from "@flowturbo/sit";
import { labelsForSamples, readSafetensors, safetensorsChunks } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { accelerationRatios, type BenchRow } from "../src/benchReport";
import { embeddedClassifier } from "../src/emojiEval";
import { plotSvg, type PlotSeries } from "../src/svgPlot";
import {
  classGridPng,
  loadModel,
  methodOf,
  openForQuality,
  openQuality,
  plansOf,
  type QualityRow,
  qualityRows,
  sampleUint8,
} from "./emojiQuality";

const { values } = parseArgs({
  options: {
    stage: { type: "string", multiple: true },
    dir: { type: "string", default: "../../models/emoji" },
    "base-run": { type: "string" },
    "refiner-run": { type: "string" },
    "set-cfg": { type: "string" },
    cfg: { type: "string" },
    "cfg-grid": { type: "string", default: "1,1.5,2,2.5,3,4" },
    plan: { type: "string", default: "H1P5R3" },
    methods: {
      type: "string",
      default:
        "H1P2R2,H1P3R2,H1P5R3,H2P4R2,H2P4R3,H3P5R3,H2P8R2,H5P7R3,H8P9R5,heun:4,heun:6,heun:8,heun:11,heun:15,heun:24,euler:8,euler:16,euler:32,euler:64,dopri5",
    },
    n: { type: "string", default: "900" },
    batch: { type: "string", default: "100" },
    "timing-batch": { type: "string", default: "16" },
    repeats: { type: "string", default: "5" },
    seed: { type: "string", default: "0" },
    threads: { type: "string", default: "1" },
    classifier: { type: "string" },
    cache: { type: "string", default: "../../runs" },
  },
});
const dir = values.dir!;
const stages = new Set(values.stage ?? []);
const n = Number(values.n);
const batch = Number(values.batch);
const seed = Number(values.seed);
const cardFile = join(dir, "card.json");
type Card = Record<string, unknown> & {
  cfgSweep?: QualityRow[];
  table?: QualityRow[];
  timing?: {
    method: string;
    batch: number;
    repeats: number;
    msPerImage: number;
    nfe: unknown;
    load: number[];
  }[];
};
const card: Card = existsSync(cardFile) ? JSON.parse(await readFile(cardFile, "utf8")) : {};
const save = () => writeFile(cardFile, `${JSON.stringify(card, null, 2)}\n`);

// ------------------------------------------------------------------------------------------ files
async function thinLog(from: string, to: string, every = 10) {
  const lines = (await readFile(from, "utf8")).trim().split("\n").filter(Boolean);
  const kept = lines.filter(
    (l, i) => (JSON.parse(l) as { step: number }).step % every === 0 || i === lines.length - 1,
  );
  await writeFile(to, `${[...new Set(kept)].join("\n")}\n`);
}
if (stages.has("files")) {
  if (values["base-run"]) {
    await copyFile(join(values["base-run"], "ema.safetensors"), join(dir, "base.safetensors"));
    await thinLog(join(values["base-run"], "log.jsonl"), join(dir, "base-log.jsonl"));
  }
  if (values["refiner-run"]) {
    await copyFile(join(values["refiner-run"], "model.safetensors"), join(dir, "refiner.safetensors"));
    await thinLog(join(values["refiner-run"], "log.jsonl"), join(dir, "refiner-log.jsonl"));
  }
  if (values["set-cfg"] !== undefined) {
    const path = join(dir, "base.safetensors");
    const { tensors, metadata } = await readSafetensors(new Uint8Array(await readFile(path)), { name: path });
    const meta = {
      ...(metadata ?? {}),
      [SAMPLING_DEFAULTS_KEY]: JSON.stringify({ cfg: Number(values["set-cfg"]) }),
    };
    samplingDefaultsOf(meta, path); // checked
    await writeFileStreaming(path, safetensorsChunks(tensors, { metadata: meta }));
    console.log(`recorded ${SAMPLING_DEFAULTS_KEY} = ${meta[SAMPLING_DEFAULTS_KEY]} in ${path}`);
  }
}

// ------------------------------------------------------------------------------------------ models
const needModels = ["cfg", "table", "timing", "grids"].some((s) => stages.has(s));
const backend = createNodeBackend({ threads: Number(values.threads) });
const base = needModels ? await loadModel(join(dir, "base.safetensors")) : undefined;
const refiner = needModels ? await loadModel(join(dir, "refiner.safetensors")) : undefined;
const recommended = base ? samplingDefaultsOf(base.metadata, base.file).cfg : undefined;
const cfg = values.cfg !== undefined ? Number(values.cfg) : (recommended ?? 1);
const methods = values.methods!.split(",");
/** Quality rows of the named methods at these CFG scales, against the built-in reference 'emoji'. */
async function cardQualityRows(names: string[], scales: number[]): Promise<QualityRow[]> {
  const classifier = values.classifier ?? embeddedClassifier();
  if (!classifier) throw new Error("no classifier: pass --classifier FILE");
  const q = await openQuality(backend, classifier, values.cache);
  const rows = await qualityRows(
    backend,
    q,
    base!,
    refiner,
    { methods: names, scales, n, batch, seed },
    (r) =>
      console.log(
        `${r.method.padEnd(9)} cfg ${r.cfg}: FD-emoji ${r.fd.toFixed(3)}, agreement ${(100 * r.agreement).toFixed(1)}%, NFE ${r.nfe.base / (n / batch)}+${r.nfe.refiner / (n / batch)}R`,
      ),
  );
  await q.extractor.release();
  return rows;
}

if (stages.has("cfg")) {
  card.cfgSweep = await cardQualityRows([values.plan!], values["cfg-grid"]!.split(",").map(Number));
  await save();
}
if (stages.has("table")) {
  card.table = await cardQualityRows(methods, [cfg]);
  card.tableCfg = cfg;
  await save();
}

// ------------------------------------------------------------------------------------------ timing
if (stages.has("timing")) {
  const tb = Number(values["timing-batch"]);
  const repeats = Number(values.repeats);
  const models = await openForQuality(backend, base!, refiner, { batch: tb, cfg, plans: plansOf(methods) });
  const labels = Array.from(labelsForSamples(seed, 0, tb, base!.config.numClasses));
  const timing: NonNullable<Card["timing"]> = [];
  for (const name of methods) {
    const load = loadavg().map((l) => Number(l.toFixed(2)));
    const run = () => sampleUint8(models, { method: methodOf(name), cfg, labels, seed, batch: tb });
    await run(); // warm-up
    const ms: number[] = [];
    let nfe: unknown;
    for (let r = 0; r < repeats; r++) {
      const s = await run();
      ms.push(s.ms / tb);
      nfe = s.nfe;
    }
    ms.sort((a, b) => a - b);
    const row = { method: name, batch: tb, repeats, msPerImage: ms[Math.floor(ms.length / 2)], nfe, load };
    timing.push(row);
    console.log(
      `${name.padEnd(9)} ${row.msPerImage.toFixed(2)} ms/image (batch ${tb}, median of ${repeats}; load ${load.join(" ")})`,
    );
  }
  await models.release();
  card.timing = timing;
  card.timingCfg = cfg;
  await save();
}

// ------------------------------------------------------------------------------------------ grids
if (stages.has("grids")) {
  const per = 8;
  const models = await openForQuality(backend, base!, refiner, {
    batch: base!.config.numClasses * per,
    cfg,
    plans: plansOf([values.plan!]),
  });
  for (const [name, method] of [
    [values.plan!.toLowerCase(), methodOf(values.plan!)],
    ["dopri5", methodOf("dopri5")],
  ] as const) {
    const grid = await classGridPng(models, { method, cfg, seed, per });
    const file = `samples-${name}.png`;
    await writeFile(join(dir, file), grid.png);
    console.log(`wrote ${file} (${grid.count} samples, cfg ${cfg}, NFE ${JSON.stringify(grid.nfe)})`);
  }
  await models.release();
}
await backend.close();

// ------------------------------------------------------------------------------------------ plots
/** Heun's latency at a given FD: log-log interpolation between the Heun runs around it (undefined outside). */
export function heunMsAt(heun: { ms: number; fd: number }[], fd: number): number | undefined {
  const s = [...heun].sort((a, b) => a.ms - b.ms);
  for (let i = 0; i + 1 < s.length; i++) {
    const [a, b] = [s[i], s[i + 1]];
    if ((a.fd >= fd && fd >= b.fd) || (a.fd <= fd && fd <= b.fd)) {
      if (a.fd === b.fd) return a.ms;
      const f = (Math.log(fd) - Math.log(a.fd)) / (Math.log(b.fd) - Math.log(a.fd));
      return Math.exp(Math.log(a.ms) + f * (Math.log(b.ms) - Math.log(a.ms)));
    }
  }
  return undefined;
}

if (stages.has("plots")) {
  if (card.table && card.timing) {
    const ms = new Map(card.timing.map((t) => [t.method, t.msPerImage]));
    const pts = (pred: (m: string) => boolean) =>
      card
        .table!.filter((r) => pred(r.method))
        .map((r) => ({ x: ms.get(r.method)!, y: r.fd, label: r.method.replace(/^(heun|euler):/, "") }));
    const all: PlotSeries[] = [
      { name: "FlowTurbo (H/P/R plans)", color: "#d62728", points: pts((m) => /^H\d+P/.test(m)) },
      {
        name: "Heun (steps)",
        color: "#1f77b4",
        points: pts((m) => m.startsWith("heun:")),
        line: true,
        marker: "square",
      },
      {
        name: "Euler (steps)",
        color: "#2ca02c",
        points: pts((m) => m.startsWith("euler:")),
        line: true,
        marker: "diamond",
      },
      { name: "dopri5 (adaptive)", color: "#000000", points: pts((m) => m === "dopri5") },
    ];
    const series = all.filter((s) => s.points.length > 0);
    await writeFile(
      join(dir, "fd-latency.svg"),
      plotSvg(series, {
        title: `FD-emoji vs latency (${card.table[0].n} samples, CFG ${card.tableCfg}, ORT CPU 1 thread, batch ${card.timing[0].batch})`,
        xLabel: "ms per image",
        yLabel: "FD-emoji (lower is better)",
        logX: true,
        logY: true,
      }),
    );
    console.log("wrote fd-latency.svg");
  }
  const logSeries = async (file: string, name: string, color: string): Promise<PlotSeries | undefined> => {
    if (!existsSync(join(dir, file))) return undefined;
    const lines = (await readFile(join(dir, file), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { step: number; loss: number });
    // mean of every 20 logged values (200 steps)
    const points: { x: number; y: number }[] = [];
    for (let i = 0; i + 20 <= lines.length; i += 20) {
      const chunk = lines.slice(i, i + 20);
      points.push({
        x: chunk[chunk.length - 1].step,
        y: chunk.reduce((a, l) => a + l.loss, 0) / chunk.length,
      });
    }
    return { name, color, points, line: true };
  };
  const loss = [
    await logSeries("base-log.jsonl", "base (this run)", "#1f77b4"),
    await logSeries("refiner-log.jsonl", "refiner", "#d62728"),
  ].filter((s): s is PlotSeries => s !== undefined);
  if (loss.length)
    await writeFile(
      join(dir, "loss.svg"),
      plotSvg(loss, {
        title: "training loss (mean of 200 steps)",
        xLabel: "step",
        yLabel: "loss",
        logY: true,
      }),
    );
}

// ------------------------------------------------------------------------------------------ report
// Markdown tables for the card from card.json: quality and latency per method, and each FlowTurbo plan
// against Heun at equal FD-emoji (the cheapest Heun run at least as good, and Heun's interpolated latency).
if (stages.has("report") && card.table && card.timing) {
  const ms = new Map(card.timing.map((t) => [t.method, t]));
  // model calls of one trajectory (the timing runs are one batch each)
  const calls = (r: QualityRow) => {
    const nfe = ms.get(r.method)?.nfe as { base: number; refiner: number } | undefined;
    if (!nfe) return "";
    return nfe.refiner ? `${nfe.base} + ${nfe.refiner} R` : `${nfe.base}`;
  };
  const lines = [
    "| method | model evaluations | ms/image | FD-emoji | class agreement |",
    "|---|---|---|---|---|",
  ];
  for (const r of card.table)
    lines.push(
      `| ${r.method} | ${calls(r)} | ${ms.get(r.method)?.msPerImage.toFixed(2) ?? "-"} | ${r.fd.toFixed(2)} | ${(100 * r.agreement).toFixed(1)}% |`,
    );
  // FD-emoji as the quality to match: the cheapest Heun run at least as good (flowturbo bench's rule)
  const benchRows: BenchRow[] = card.table.map((r) => ({
    method: r.method,
    kind: /^H\d+P/.test(r.method) ? "flowturbo" : "baseline",
    batch: ms.get(r.method)!.batch,
    msPerImage: ms.get(r.method)!.msPerImage,
    nfe: r.nfe,
    error: r.fd,
  }));
  const heun = benchRows
    .filter((r) => r.method.startsWith("heun:"))
    .map((r) => ({ fd: r.error, ms: r.msPerImage }));
  const byMethod = new Map(benchRows.map((r) => [r.method, r]));
  lines.push(
    "",
    "| plan | ms/image | FD-emoji | cheapest Heun at least as good | its ms/image | ratio | Heun's ms/image at the plan's FD (interpolated) | ratio |",
    "|---|---|---|---|---|---|---|---|",
  );
  for (const a of accelerationRatios(benchRows)) {
    const r = byMethod.get(a.plan)!;
    const match = a.heun ? byMethod.get(a.heun) : undefined;
    const at = heunMsAt(heun, r.error);
    lines.push(
      `| ${a.plan} | ${r.msPerImage.toFixed(2)} | ${r.error.toFixed(2)} | ${a.heun ?? "none"} | ${match ? match.msPerImage.toFixed(2) : "-"} | ${a.ratio ? `${a.ratio.toFixed(2)}x` : "-"} | ${at ? at.toFixed(2) : "-"} | ${at ? `${(at / r.msPerImage).toFixed(2)}x` : "-"} |`,
    );
  }
  console.log(lines.join("\n"));
}
