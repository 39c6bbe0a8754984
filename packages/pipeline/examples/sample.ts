// Sample with FlowTurbo from a SiT checkpoint and its refiner on ONNX Runtime (CPU).
// Run: pnpm exec tsx --conditions=@flowturbo/source examples/sample.ts [sit.pt refiner.pt heads]
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { FlowTurboPipeline, parseMethod } from "@flowturbo/pipeline";
import { readModelFile } from "@flowturbo/pipeline/node";

const fixtures = join(import.meta.dirname, "../../../fixtures/golden/sit");
const [sitPath = join(fixtures, "sit.pt"), refinerPath = join(fixtures, "refiner.pt"), heads = "4"] =
  process.argv.slice(2);

// 1. checkpoint files -> checked models (.pt, .safetensors or converted .onnx; the kind is checked)
const base = await readModelFile(sitPath, { expect: "sit", heads: Number(heads) });
const refiner = await readModelFile(refinerPath, { expect: "refiner", heads: Number(heads) });

// 2. models -> pipeline on a backend (sessions open on the first generate, and are reused)
const backend = createNodeBackend();
const pipeline = await FlowTurboPipeline.open(backend, { base, refiner });

// 3. a request: FlowTurbo's H1P2R2 plan with SiT's 3-channel CFG at scale 4, block-compiled
const result = await pipeline.generate({
  method: parseMethod({ plan: "H1P2R2" }),
  labels: [207, 360],
  cfg: 4,
  seed: 0,
});
console.log(
  `latents [${result.latents.shape.join(", ")}], NFE base ${result.nfe.base}, refiner ${result.nfe.refiner}, compile ${result.compile}`,
);
await pipeline.release();
await backend.close();
