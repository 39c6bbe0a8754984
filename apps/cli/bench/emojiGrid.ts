// A sample grid (one row per class, 8 samples each, 2x) of a model file or training checkpoint: for
// looking at pilots. Not a test.
//   node --conditions=@flowturbo/source --import tsx bench/emojiGrid.ts --base runs/x/checkpoint.safetensors --method heun:8 --cfg 2 -o grid.png
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import { encodePng, makeGrid } from "@flowturbo/data";
import { blockPlanOf } from "@flowturbo/pipeline";
import { Tensor } from "@flowturbo/tensor";
import { loadModel, methodOf, openForQuality, sampleUint8 } from "./emojiQuality";

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
const per = Number(values.per);
const k = base.config.numClasses;
const labels = Array.from({ length: k * per }, (_, i) => Math.floor(i / per));
const method = methodOf(values.method!);
const plan = blockPlanOf(method);
const plans = plan ? [plan] : [];
const cfg = Number(values.cfg);
const models = await openForQuality(backend, base, refiner, { batch: labels.length, cfg, plans });
const s = await sampleUint8(models, { method, cfg, labels, seed: Number(values.seed), batch: labels.length });
const grid = makeGrid(new Tensor("uint8", [labels.length, 32, 32, 3], s.images), per, {
  padding: 2,
  padValue: 255,
});
const up = new Uint8Array(grid.width * grid.height * 12);
for (let y = 0; y < 2 * grid.height; y++)
  for (let x = 0; x < 2 * grid.width; x++) {
    const src = ((y >> 1) * grid.width + (x >> 1)) * 3;
    up.set(grid.data.subarray(src, src + 3), (y * 2 * grid.width + x) * 3);
  }
await writeFile(values.out!, await encodePng({ width: 2 * grid.width, height: 2 * grid.height, data: up }));
await models.release();
await backend.close();
console.log(`wrote ${values.out} (${base.file}, ${values.method}, cfg ${cfg})`);
