// Sample with FlowTurbo from a SiT checkpoint and its refiner on ONNX Runtime (CPU).
// Run: pnpm exec tsx --conditions=@flowturbo/source examples/sample.ts [sit.pt refiner.pt heads]
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { sample } from "@flowturbo/core";
import { loadCheckpoint, refinerGraph, sitGraph } from "@flowturbo/refiner";

const golden = join(import.meta.dirname, "../../../fixtures/golden/sit");
const [sitPath = join(golden, "sit.pt"), refinerPath = join(golden, "refiner.pt"), heads = "4"] =
  process.argv.slice(2);

// 1. checkpoint -> architecture + weights (.pt, .safetensors or converted .onnx)
const base = await loadCheckpoint(new Uint8Array(await readFile(sitPath)), { heads: Number(heads) });
const refiner = await loadCheckpoint(new Uint8Array(await readFile(refinerPath)), { heads: Number(heads) });

// 2. graph -> backend session (the graph is emitted as ONNX with a dynamic batch)
const backend = createNodeBackend();
const baseSession = await backend.load({ graph: sitGraph(base.config), weights: base.weights });
const refinerSession = await backend.load({ graph: refinerGraph(refiner.config), weights: refiner.weights });

// 3. session -> solver: FlowTurbo's H1P2R2 plan with SiT's 3-channel CFG at scale 4
const c = base.config;
const result = await sample({
  base: baseSession,
  refiner: refinerSession,
  shape: [c.keepChannels, c.inputSize, c.inputSize],
  labels: [207, 360],
  nullClass: c.numClasses,
  method: { plan: "H1P2R2" },
  cfgScale: 4,
  seed: 0,
});
console.log(
  `latents [${result.latents.shape.join(", ")}], NFE base ${result.nfe.base}, refiner ${result.nfe.refiner}`,
);
await backend.close();
