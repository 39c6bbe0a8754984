import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { noiseBatch } from "@flowturbo/tensor";
import {
  downsamplingFactor,
  loadVaeDecoder,
  loadVaeEncoder,
  loadVaeWeights,
  vaeConfigFromDiffusers,
} from "@flowturbo/vae";

// A diffusers AutoencoderKL folder: point VAE_DIR at stabilityai/sd-vae-ft-ema (config.json +
// diffusion_pytorch_model.safetensors). By default: the repository's tiny golden VAE (legacy key names).
const dir = process.env.VAE_DIR ?? join(import.meta.dirname, "../../../fixtures/golden/vae/vae_tiny");
const file = process.env.VAE_DIR
  ? "diffusion_pytorch_model.safetensors"
  : "vae_tiny_legacy_names.safetensors";

const config = vaeConfigFromDiffusers(await readFile(join(dir, "config.json"), "utf8"));
const weights = await loadVaeWeights(new Uint8Array(await readFile(join(dir, file))), { config, file });

const backend = createNodeBackend(); // ONNX Runtime CPU in a worker thread
const size = 32; // latent height/width: SD images of 256x256
const vae = await loadVaeDecoder(backend, weights, { config, graph: { latentSize: size } });

// Pipeline latents (what a sampler produces, i.e. already multiplied by scaling_factor): 6 of them,
// decoded 4 at a time to cap memory; the graph divides by scaling_factor itself.
const latents = noiseBatch(0, 0, 6, [config.latentChannels, size, size]);
const images = await vae.decodeToUint8(latents, { maxBatch: 4 });
console.log("uint8 images (NHWC):", images.shape.join("x"));

// Round trip: encode the decoded float images again (seeded posterior sample, scaled latents).
const imageSize = size * downsamplingFactor(config);
const encoder = await loadVaeEncoder(backend, weights, { config, graph: { imageSize } });
const decoded = await vae.decode(latents.sliceRows(0, 2));
const { latents: again } = await encoder.encode(decoded, { seed: 1 });
console.log("re-encoded latents:", again.shape.join("x"));

await vae.release();
await encoder.release();
await backend.close();
