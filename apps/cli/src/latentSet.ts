// A latent cache (@flowturbo/data's buildLatentCache) as a training set: the VAE posteriors (mean, std)
// of every cached image held in memory, and each draw a fresh posterior sample as FlowTurbo's and SiT's
// training do (`vae.encode(x).latent_dist.sample() * 0.18215`): eps of (seed, cache row, epoch).
import { freemem } from "node:os";
import { sampleLatents } from "@flowturbo/data";
import { SD_LATENT_SCALE } from "@flowturbo/vae";
import { openLatentCache } from "@flowturbo/data/node";
import type { TrainingSet } from "@flowturbo/sit";
import { Tensor } from "@flowturbo/tensor";

export interface LatentCacheSet {
  set: TrainingSet;
  /** Whether the cache stores mirrored images (otherwise training runs without flips). */
  flips: boolean;
  images: number;
}

/** Rows read per request while loading (keeps the number of small reads low). */
const LOAD_CHUNK = 256;

export async function loadLatentCacheSet(
  dir: string,
  opts: { seed: number; numClasses?: number; maxBytes?: number },
): Promise<LatentCacheSet> {
  const cache = await openLatentCache(dir, { verify: "size" });
  try {
    const shape = cache.latentShape;
    if (shape.length !== 3) throw new Error(`${dir}: the latent cache records no latent shape`);
    const per = shape[0] * shape[1] * shape[2];
    const images = cache.images;
    const flips = cache.index.options.flips === "both";
    const rows: number[] = [];
    for (const img of images) {
      rows.push(cache.rowOf(img, 0)!);
      if (flips) rows.push(cache.rowOf(img, 1)!);
    }
    const bytes = rows.length * per * 8;
    const limit = opts.maxBytes ?? Math.max(freemem() * 0.8, 1 << 30);
    if (bytes > limit)
      throw new Error(
        `${dir}: holding its ${rows.length} posteriors needs ${(bytes / 2 ** 30).toFixed(1)} GiB, more than the ${(limit / 2 ** 30).toFixed(1)} GiB available: train on a subset (a cache of fewer images)`,
      );
    const numClasses = cache.index.dataset.numClasses ?? opts.numClasses;
    if (numClasses === undefined)
      throw new Error(`${dir}: the latent cache records no class count; it was built without a class map`);
    if (opts.numClasses !== undefined && numClasses !== opts.numClasses)
      throw new Error(
        `${dir}: the cache's labels are ${numClasses} classes, the model has ${opts.numClasses} (build the cache with the model's class map)`,
      );
    const mean = new Float32Array(rows.length * per);
    const std = new Float32Array(rows.length * per);
    const labels = new Int32Array(images.length);
    const rowIds = new Int32Array(rows.length);
    for (let s = 0; s < rows.length; s += LOAD_CHUNK) {
      const b = await cache.readRows(rows.slice(s, s + LOAD_CHUNK));
      mean.set(b.mean.data as Float32Array, s * per);
      std.set(b.std.data as Float32Array, s * per);
      rowIds.set(b.rows, s);
    }
    const stride = flips ? 2 : 1;
    images.forEach((img, i) => {
      labels[i] = cache.row(cache.rowOf(img, 0)!).label;
    });
    const set: TrainingSet = {
      length: images.length,
      shape: [shape[0], shape[1], shape[2]],
      numClasses,
      label: (i) => labels[i],
      write(i, flip, out, offset, epoch) {
        const r = i * stride + (flip && flips ? 1 : 0);
        const m = new Tensor("float32", [1, ...shape], mean.subarray(r * per, (r + 1) * per));
        const sd = new Tensor("float32", [1, ...shape], std.subarray(r * per, (r + 1) * per));
        const z = sampleLatents(m, sd, [rowIds[r]], { seed: opts.seed, epoch, scale: SD_LATENT_SCALE });
        out.set(z.data as Float32Array, offset);
      },
    };
    return { set, flips, images: images.length };
  } finally {
    await cache.close();
  }
}
