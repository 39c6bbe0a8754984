// FD-emoji and class agreement of a model (a file or a training checkpoint's EMA weights) for several
// methods and CFG scales: the pilot measurements behind the embedded model's recipe. Prints one line per
// (method, cfg) and a JSON line. Not a test.
//   node --conditions=@flowturbo/source --import tsx bench/emojiFd.ts --base runs/f1/checkpoint.safetensors \
//     --methods H1P5R3,heun:8,dopri5 --cfg 1,2,3 --n 480 [--refiner FILE] [--classifier FILE] [--threads 1]
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import { embeddedClassifier } from "../src/emojiEval";
import { loadModel, openQuality, qualityRows } from "./emojiQuality";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    refiner: { type: "string" },
    raw: { type: "boolean", default: false },
    methods: { type: "string", default: "heun:8" },
    cfg: { type: "string", default: "1" },
    n: { type: "string", default: "480" },
    seed: { type: "string", default: "0" },
    batch: { type: "string", default: "48" },
    classifier: { type: "string" },
    cache: { type: "string", default: "runs" },
    reference: { type: "string", default: "emoji" },
    threads: { type: "string", default: "1" },
  },
});
if (!values.base) throw new Error("--base FILE is required");
const n = Number(values.n);
const batch = Math.min(Number(values.batch), n);
if (n % batch !== 0) throw new Error(`--n ${n} must be a multiple of --batch ${batch}`);
const seed = Number(values.seed);
const backend = createNodeBackend({ threads: Number(values.threads) });
const classifier = values.classifier ?? embeddedClassifier();
if (!classifier) throw new Error("no classifier: pass --classifier FILE");
const q = await openQuality(backend, classifier, values.cache, values.reference);
const base = await loadModel(values.base, { ema: !values.raw });
const refiner = values.refiner ? await loadModel(values.refiner, { ema: false }) : undefined;
const methods = values.methods.split(",");
const rows = await qualityRows(
  backend,
  q,
  base,
  refiner,
  { methods, scales: values.cfg.split(",").map(Number), n, batch, seed },
  (row) =>
    console.log(
      `${base.file} ${row.method.padEnd(8)} cfg ${row.cfg}: FD-emoji ${row.fd.toFixed(3)}, class agreement ${(100 * row.agreement).toFixed(1)}%, ${row.msPerImage.toFixed(2)} ms/image`,
    ),
);
await q.extractor.release();
await backend.close();
console.log(JSON.stringify({ base: base.file, classifier: q.model.sha256, seed, rows }));
