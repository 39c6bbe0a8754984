// Sample with FlowTurbo from a SiT checkpoint, its refiner and a VAE on ONNX Runtime (CPU).
// Run from packages/pipeline: node --conditions=@flowturbo/source --import tsx examples/sample.ts
//   [sit.pt refiner.pt heads vae.safetensors config.json]   (default: the tiny golden models)
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { FlowTurboPipeline, parseMethod } from "@flowturbo/pipeline";
import { openVaeFile, readModelFile } from "@flowturbo/pipeline/node";

const golden = join(import.meta.dirname, "../../../fixtures/golden");
const [
  sitPath = join(golden, "sit/sit.pt"),
  refinerPath = join(golden, "sit/refiner.pt"),
  heads = "4",
  vaePath = join(golden, "vae/vae_tiny/vae_tiny.safetensors"),
  vaeConfig = join(golden, "vae/vae_tiny/config.json"),
] = process.argv.slice(2);

// 1. files -> checked models (.pt, .safetensors or converted .onnx; a refiner given as the base is refused)
const base = await readModelFile(sitPath, { expect: "sit", heads: Number(heads) });
const refiner = await readModelFile(refinerPath, { expect: "refiner", heads: Number(heads) });
const backend = createNodeBackend();
const vae = await openVaeFile(backend, vaePath, { configPath: vaeConfig, latentSize: base.config.inputSize });

// 2. models -> pipeline (sessions open on the first generate, and are reused while the settings stay)
const pipeline = await FlowTurboPipeline.open(backend, { base, refiner, vae });

// 3. a request: FlowTurbo's H1P2R2 plan, SiT's guidance at scale 4, block-compiled (the default for plans)
const request = { method: parseMethod({ plan: "H1P2R2" }), labels: [207, 360], cfg: 4, seed: 0 };
console.log(pipeline.check(request)); // [] : every rule holds
const result = await pipeline.generate(request);
console.log(
  `latents [${result.latents.shape}], images [${result.images?.shape}], NFE ${result.nfe.base}+${result.nfe.refiner}R, compile ${result.compile}`,
);
await pipeline.release();
await vae.release();
await backend.close();
