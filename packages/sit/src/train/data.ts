// Training data and every random draw of a training step, as pure functions of (seed, step, sample):
// resuming at step k reproduces the batches of the uninterrupted run exactly (packages/tensor/src/rng).
//
// Sample positions: step s takes the global positions s*B .. s*B+B-1; position p belongs to epoch
// floor(p / N) and is image perm_e[p mod N] of that epoch's permutation (stream "data/shuffle",
// subsequence = epoch, as @flowturbo/data's sampleOrder). Horizontal flips: stream "data/flip",
// subsequence = epoch, element = image index (as @flowturbo/data's flipFor). Per-sample noise x0:
// noiseForSample(seed, p, shape, "train/x0"). Per-step draws (stream name, subsequence = step):
// t "train/t" uniform [0,1) per sample, label drop "train/drop" Bernoulli per sample,
// dt "train/dt" one uniform scalar times dtMax.
import { noiseBatch, Rng, Tensor } from "@flowturbo/tensor";

export const TRAIN_STREAMS = {
  shuffle: "data/shuffle",
  flip: "data/flip",
  x0: "train/x0",
  t: "train/t",
  drop: "train/drop",
  dt: "train/dt",
} as const;

/** A labelled set of training examples of one shape [C, H, W] (images in [-1, 1] or VAE latents). */
export interface TrainingSet {
  readonly length: number;
  /** [C, H, W] of one example. */
  readonly shape: readonly [number, number, number];
  readonly numClasses: number;
  label(index: number): number;
  /**
   * Writes example `index` (mirrored left-right if `flip`) as CHW float32 into `out` at `offset`. `epoch`
   * (of this draw) lets sets with per-epoch randomness, e.g. VAE posterior samples, draw fresh values.
   */
  write(index: number, flip: boolean, out: Float32Array, offset: number, epoch: number): void;
}

const UINT8_TO_UNIT = (() => {
  const t = new Float32Array(256);
  // ADM's arr.astype(np.float32) / 127.5 - 1 in float32
  for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(v / 127.5) - 1);
  return t;
})();

/**
 * The most classes a training set may define (a label table of that many rows, plus the null class): a
 * label of 1e9 is a broken file, not a billion-class model.
 */
export const MAX_TRAINING_CLASSES = 100_000;

/**
 * Labels as class ids: integers in 0..numClasses-1 (without numClasses: below MAX_TRAINING_CLASSES).
 * Throws naming `what`, the first bad label and its example. Returns them as an Int32Array.
 */
export function checkedLabels(labels: ArrayLike<number>, what: string, numClasses?: number): Int32Array {
  const limit = numClasses ?? MAX_TRAINING_CLASSES;
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= limit)
      throw new Error(
        `${what}: label ${l} of example ${i} is not a class id in 0..${limit - 1}${numClasses === undefined ? ` (a training set has at most ${MAX_TRAINING_CLASSES} classes)` : ""}`,
      );
    out[i] = l;
  }
  return out;
}

/** 8-bit images NHWC [N, H, W, C] with labels, scaled to [-1, 1] as ADM/SiT do (v / 127.5 - 1). */
export function uint8ImageSet(images: Tensor, labels: ArrayLike<number>, numClasses: number): TrainingSet {
  if (images.dtype !== "uint8" || images.rank !== 4)
    throw new Error(`training images must be uint8 NHWC [N, H, W, C], got ${images}`);
  const [n, h, w, c] = images.shape;
  if (labels.length !== n) throw new Error(`training set: ${labels.length} labels for ${n} images`);
  checkedLabels(labels, "training set", numClasses);
  const data = images.data as Uint8Array;
  return {
    length: n,
    shape: [c, h, w],
    numClasses,
    label: (i) => labels[i],
    write(i, flip, out, offset) {
      const base = i * h * w * c;
      const plane = h * w;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const s = base + (y * w + (flip ? w - 1 - x : x)) * c;
          const d = offset + y * w + x;
          for (let ch = 0; ch < c; ch++) out[d + ch * plane] = UINT8_TO_UNIT[data[s + ch]];
        }
      }
    },
  };
}

/** Float examples [N, C, H, W] (e.g. a latent cache) with labels; flips mirror the last axis. */
export function tensorSet(examples: Tensor, labels: ArrayLike<number>, numClasses: number): TrainingSet {
  if (examples.rank !== 4) throw new Error(`training examples must be [N, C, H, W], got ${examples}`);
  const [n, c, h, w] = examples.shape;
  if (labels.length !== n) throw new Error(`training set: ${labels.length} labels for ${n} examples`);
  checkedLabels(labels, "training set", numClasses);
  const data = examples.dtype === "float32" ? (examples.data as Float32Array) : examples.toFloat32();
  const size = c * h * w;
  return {
    length: n,
    shape: [c, h, w],
    numClasses,
    label: (i) => labels[i],
    write(i, flip, out, offset) {
      const src = data.subarray(i * size, (i + 1) * size);
      if (!flip) {
        out.set(src, offset);
        return;
      }
      for (let r = 0; r < c * h; r++)
        for (let x = 0; x < w; x++) out[offset + r * w + x] = src[r * w + (w - 1 - x)];
    },
  };
}

/** A class-conditional toy set (no files): coloured blobs whose position and colour depend on the class. */
export function syntheticSet(count: number, numClasses: number, size = 32, channels = 3): TrainingSet {
  return {
    length: count,
    shape: [channels, size, size],
    numClasses,
    label: (i) => i % numClasses,
    write(i, flip, out, offset) {
      const cls = i % numClasses;
      const u = new Rng(0).stream("synthetic", i).uniform(0, 3);
      const cx = size * (0.25 + 0.5 * ((cls % 3) / 2)) + (u[0] - 0.5) * 4;
      const cy = size * (0.25 + (0.5 * (Math.floor(cls / 3) % 3)) / 2) + (u[1] - 0.5) * 4;
      const r = size * (0.15 + 0.1 * u[2]);
      const plane = size * size;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const xx = flip ? size - 1 - x : x;
          const inside = (xx - cx) ** 2 + (y - cy) ** 2 < r * r;
          for (let ch = 0; ch < channels; ch++) {
            const col = ((cls + ch) % 3) / 2; // class colour in [0, 1]
            out[offset + ch * plane + y * size + x] = inside ? 2 * col - 1 : 1;
          }
        }
      }
    },
  };
}

/** Options of the per-step feeds. */
export interface FeedOptions {
  set: TrainingSet;
  batch: number;
  seed: number;
  /** Random horizontal flips (default true for images, as the paper's training). */
  flip?: boolean;
  /** Label dropout probability (default 0.1). */
  labelDrop?: number;
  /**
   * How t is drawn (base objective): "uniform" U[0,1) (SiT, default) or "logit-normal" sigmoid(N(0,1))
   * (SD3's rectified-flow weighting: more samples at mid t), from the same stream "train/t".
   */
  timeSampling?: TimeSampling;
}

export type TimeSampling = "uniform" | "logit-normal";

/** t of step `step`'s samples. */
export function timesFor(
  seed: number,
  step: number,
  batch: number,
  how: TimeSampling = "uniform",
): Float32Array {
  const stream = new Rng(seed).stream(TRAIN_STREAMS.t, step);
  if (how === "uniform") return stream.uniform(0, batch);
  const z = stream.normal(0, batch);
  const t = new Float32Array(batch);
  for (let i = 0; i < batch; i++) t[i] = 1 / (1 + Math.exp(-z[i]));
  return t;
}

/** Image indices and flips of step `step`, from the per-epoch permutations. */
export class BatchSampler {
  private cache = new Map<number, Int32Array>();
  constructor(
    readonly n: number,
    readonly batch: number,
    readonly seed: number,
  ) {
    if (n < 1) throw new Error("training set is empty");
  }

  private order(epoch: number): Int32Array {
    let perm = this.cache.get(epoch);
    if (!perm) {
      perm = new Rng(this.seed).stream(TRAIN_STREAMS.shuffle, epoch).permutation(this.n);
      if (this.cache.size >= 2) this.cache.delete(this.cache.keys().next().value as number);
      this.cache.set(epoch, perm);
    }
    return perm;
  }

  /** Epoch of step `step` (that of its first sample). */
  epochOf(step: number): number {
    return Math.floor((step * this.batch) / this.n);
  }

  indices(step: number): { indices: Int32Array; flips: Uint8Array; epochs: Int32Array } {
    const indices = new Int32Array(this.batch);
    const flips = new Uint8Array(this.batch);
    const epochs = new Int32Array(this.batch);
    for (let b = 0; b < this.batch; b++) {
      const p = step * this.batch + b;
      const epoch = Math.floor(p / this.n);
      const i = this.order(epoch)[p % this.n];
      indices[b] = i;
      epochs[b] = epoch;
      flips[b] = new Rng(this.seed).stream(TRAIN_STREAMS.flip, epoch).uniform(i, 1)[0] < 0.5 ? 1 : 0;
    }
    return { indices, flips, epochs };
  }
}

function int64(values: ArrayLike<number>): Tensor {
  return new Tensor("int64", [values.length], BigInt64Array.from(Array.from(values, (v) => BigInt(v))));
}

/** Inputs x1, x0, t, y, drop of step `step` (0-based) for the base or the refiner objective. */
export function stepFeeds(o: FeedOptions, sampler: BatchSampler, step: number): Record<string, Tensor> {
  const { set, batch, seed } = o;
  const [c, h, w] = set.shape;
  const size = c * h * w;
  const { indices, flips, epochs } = sampler.indices(step);
  const x1 = new Float32Array(batch * size);
  const labels = new Array<number>(batch);
  const flip = o.flip ?? true;
  for (let b = 0; b < batch; b++) {
    set.write(indices[b], flip && flips[b] === 1, x1, b * size, epochs[b]);
    labels[b] = set.label(indices[b]);
  }
  const rng = new Rng(seed);
  const drop = rng.stream(TRAIN_STREAMS.drop, step).bernoulli(0, batch, o.labelDrop ?? 0.1);
  return {
    x1: new Tensor("float32", [batch, c, h, w], x1),
    x0: noiseBatch(seed, step * batch, batch, [c, h, w], TRAIN_STREAMS.x0),
    t: new Tensor("float32", [batch], timesFor(seed, step, batch, o.timeSampling)),
    y: int64(labels),
    drop: new Tensor("bool", [batch], drop),
  };
}

/** Feeds of the base objective: (step) => {x1, x0, t, y, drop}. */
export function baseFeeds(o: FeedOptions): (step: number) => Record<string, Tensor> {
  const sampler = new BatchSampler(o.set.length, o.batch, o.seed);
  return (step) => stepFeeds(o, sampler, step);
}
