// A sample grid (one row per class, 8 samples each, 2x) of a model file or training checkpoint: for
// looking at pilots. Not a test.
//   node --conditions=@flowturbo/source --import tsx bench/emojiGrid.ts --base runs/x/checkpoint.safetensors --method heun:8 --cfg 2 -o grid.png
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import { classGridPng, loadModel, methodOf, openForQuality, plansOf } from "./emojiQuality";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    refiner: { type: "string" },
    method: { type: "string", default: "heun:8" },
    cfg: { type: "string", default: "2" },
    seed: { type: "string", default: "0" },
    per: { type: "string", default: "8" },
    out: { type: "string", short: "o", default: "grid.png" },
  },
});
const backend = createNodeBackend({ threads: 1 });
const base = await loadModel(values.base!);
const refiner = values.refiner ? await loadModel(values.refiner, { ema: false }) : undefined;
const method = methodOf(values.method!);
const cfg = Number(values.cfg);
const models = await openForQuality(backend, base, refiner, {
  batch: base.config.numClasses * Number(values.per),
  cfg,
  plans: plansOf([values.method!]),
});
const grid = await classGridPng(models, { method, cfg, seed: Number(values.seed), per: Number(values.per) });
await writeFile(values.out!, grid.png);
await models.release();
await backend.close();
console.log(`wrote ${values.out} (${base.file}, ${values.method}, cfg ${cfg})`);
