import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LatentEncoder, sampleLatents } from "@flowturbo/data";
import { SD_LATENT_SCALE } from "@flowturbo/vae";
import {
  buildLatentCache,
  flatFolder,
  loadEmojiDataset,
  openLatentCache,
  writePngFolder,
} from "@flowturbo/data/node";
import { Tensor } from "@flowturbo/tensor";

const dir = mkdtempSync(join(tmpdir(), "latents-"));
await writePngFolder((await loadEmojiDataset()).images.sliceRows(0, 10), join(dir, "images"));
const dataset = await flatFolder(join(dir, "images"), { imageSize: 32, label: 3, numClasses: 9 });

// The VAE goes here: with @flowturbo/vae, `(images) => vae.encode(session, images)` (it returns
// { mean, std, ... }). This stand-in "encoder" pools 8x8 blocks into a [4, 4, 4] latent.
const encode: LatentEncoder = async (images) => {
  const [b, , h, w] = images.shape;
  const mean = Tensor.zeros("float32", [b, 4, h / 8, w / 8]);
  for (let i = 0; i < mean.size; i++) mean.data[i] = images.data[i * 8] ?? 0;
  return { mean, std: new Tensor("float32", mean.shape, new Float32Array(mean.size).fill(0.1)) };
};

// Encode once into sharded safetensors + index.json; re-running resumes after a crash.
const index = await buildLatentCache(dataset, join(dir, "cache"), encode, {
  shardSize: 4,
  encoder: "stand-in",
});
console.log(`${index.numShards} shards, complete: ${index.complete}, latent ${index.latentShape}`);

// Training reads posteriors (checksums verified on open) and samples fresh latents every epoch.
const cache = await openLatentCache(join(dir, "cache"));
for await (const b of cache.batches({ batchSize: 6, seed: 0, epoch: 0 })) {
  const x1 = sampleLatents(b.mean, b.std, b.rows, { seed: 0, epoch: 0, scale: SD_LATENT_SCALE }); // 0.18215 * (mean + std * eps)
  console.log(x1.shape.join("x"), [...b.flips].join(""));
}
await cache.close();
