// Latent-cache conventions shared by the Node cache writer/reader and training code (browser-safe).

import { noiseForSample, type Seed, Tensor } from "@flowturbo/tensor";

/** RNG stream prefix of the posterior noise drawn at training time ("data/latent-eps/<epoch>"). */
export const LATENT_EPS_STREAM = "data/latent-eps";

/**
 * The encoder a latent cache calls: images [B, 3, H, W] float32 in [-1, 1] -> the VAE posterior's mean
 * and std, each [B, C, h, w] (unscaled, as diffusers' latent_dist.mean / .std). `@flowturbo/vae`'s
 * `encode(session, images)` result fits (it also returns other fields, which are ignored).
 */
export type LatentEncoder = (images: Tensor<"float32">) => Promise<{ mean: Tensor; std: Tensor }>;

export interface SampleLatentOptions {
  seed?: Seed;
  /** Fresh noise per epoch (default 0). */
  epoch?: number;
  /** The VAE's latent scale (its scaling_factor; `@flowturbo/vae`'s SD_LATENT_SCALE for sd-vae-ft-ema). */
  scale: number;
}

/**
 * Draws training latents from cached posteriors, as FlowTurbo's `vae.encode(x).latent_dist.sample() *
 * 0.18215`: `scale * (mean + std * eps)` with eps row i = `noiseForSample(seed, ids[i], [C, h, w],
 * "data/latent-eps/<epoch>")`, so each (image, flip) row gets its own noise, new every epoch, whatever
 * the batching. `ids` are stable row ids (e.g. `2 * datasetIndex + flip`).
 */
export function sampleLatents(
  mean: Tensor,
  std: Tensor,
  ids: ArrayLike<number>,
  options: SampleLatentOptions,
): Tensor<"float32"> {
  if (mean.shape.join() !== std.shape.join())
    throw new Error(`mean [${mean.shape}] and std [${std.shape}] differ`);
  const n = mean.shape[0];
  if (ids.length !== n) throw new Error(`need ${n} row ids, got ${ids.length}`);
  const rowShape = mean.shape.slice(1);
  const row = rowShape.reduce((a, b) => a * b, 1);
  const m = mean.dtype === "float32" ? (mean.data as Float32Array) : mean.toFloat32();
  const s = std.dtype === "float32" ? (std.data as Float32Array) : std.toFloat32();
  const scale = Math.fround(options.scale);
  const stream = `${LATENT_EPS_STREAM}/${options.epoch ?? 0}`;
  const out = new Float32Array(n * row);
  for (let i = 0; i < n; i++) {
    const eps = noiseForSample(options.seed ?? 0, ids[i], rowShape, stream);
    const o = i * row;
    for (let j = 0; j < row; j++) out[o + j] = scale * Math.fround(m[o + j] + Math.fround(s[o + j] * eps[j]));
  }
  return new Tensor("float32", mean.shape, out);
}
