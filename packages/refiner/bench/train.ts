// Training throughput on ORT CPU: base (flow matching) and refiner (FlowTurbo objective) steps/s and
// samples/s at the embedded emoji model's size (SiT 32x32x3, patch 4, width 128, depth 5, 2 heads; base
// batch 32, refiner depth 1 batch 18), synthetic data. Prints a table and a final JSON line.
// Usage: pnpm bench:train [--steps 20] [--threads 1] [--hidden 128 --depth 5 --heads 2 --patch 4]
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import type { Tensor } from "@flowturbo/tensor";
import {
  baseFeeds,
  baseTrainingStep,
  proceduralWeights,
  type SiTConfig,
  sitInitialWeights,
  syntheticSet,
} from "@flowturbo/sit";
import { type TrainProgress, train } from "@flowturbo/sit/node";
import { refinerConfig, refinerFeeds, refinerTrainingStep, STUDENT, TEACHER } from "../src";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    threads: { type: "string", default: "1" },
    hidden: { type: "string", default: "128" },
    depth: { type: "string", default: "5" },
    heads: { type: "string", default: "2" },
    patch: { type: "string", default: "4" },
    "base-batch": { type: "string", default: "32" },
    "refiner-batch": { type: "string", default: "18" },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const threads = Number(values.threads);
const cfg: SiTConfig = {
  inputSize: 32,
  patchSize: Number(values.patch),
  inChannels: 3,
  outChannels: 3,
  keepChannels: 3,
  hiddenSize: Number(values.hidden),
  depth: Number(values.depth),
  numHeads: Number(values.heads),
  numClasses: 9,
  mlpRatio: 4,
};
const set = syntheticSet(1024, 9, 32, 3);
const backend = createNodeBackend({ threads });

async function time(
  name: string,
  batch: number,
  step: { graph: import("@flowturbo/tensor").Graph; trainable: string[] },
  weights: Map<string, Tensor>,
  data: (s: number) => Record<string, Tensor>,
) {
  const stamps: number[] = [];
  const r = await train({
    backend,
    step,
    weights,
    data,
    steps: warmup + steps,
    onProgress: (_p: TrainProgress) => stamps.push(performance.now()),
  });
  const timed = stamps.slice(warmup - 1);
  const sec = (timed[timed.length - 1] - timed[0]) / 1000;
  const stepsPerSec = (timed.length - 1) / sec;
  const row = {
    objective: name,
    batch,
    parameters: step.trainable.reduce((n, k) => n + weights.get(k)!.size, 0),
    stepsPerSec,
    samplesPerSec: stepsPerSec * batch,
    finalLoss: r.loss,
  };
  console.log(
    `${name.padEnd(8)} batch ${String(batch).padStart(3)}: ${stepsPerSec.toFixed(2)} steps/s, ${row.samplesPerSec.toFixed(1)} samples/s (${row.parameters.toLocaleString("en-US")} trained parameters)`,
  );
  return row;
}

console.log(
  `ORT CPU, ${threads} thread(s); SiT ${cfg.inputSize}x${cfg.inputSize}x3 patch ${cfg.patchSize} width ${cfg.hiddenSize} depth ${cfg.depth} heads ${cfg.numHeads}; ${warmup} warm-up + ${steps} timed steps`,
);
const baseBatch = Number(values["base-batch"]);
const base = baseTrainingStep(cfg, baseBatch, { lr: 2e-4, maxGradNorm: 1, emaDecay: 0.999 });
const rows = [
  await time(
    "base",
    baseBatch,
    base,
    sitInitialWeights(base.graph, { seed: 0 }),
    baseFeeds({ set, batch: baseBatch, seed: 0 }),
  ),
];
const refinerBatch = Number(values["refiner-batch"]);
const refiner = refinerTrainingStep(cfg, refinerConfig(cfg), refinerBatch, { emaDecay: 0.9999 });
const rw = new Map([
  ...[...proceduralWeights(refiner.graph)].filter(([k]) => k.startsWith(`${TEACHER}.`)),
  ...sitInitialWeights(refiner.graph, { seed: 0, prefix: STUDENT }),
]);
rows.push(
  await time("refiner", refinerBatch, refiner, rw, refinerFeeds({ set, batch: refinerBatch, seed: 0 })),
);
await backend.close();
console.log(JSON.stringify({ bench: "train", provider: "cpu", threads, config: cfg, rows }));
