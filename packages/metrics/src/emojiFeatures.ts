// FD-emoji and class agreement: the emoji classifier (emojiClassifier.ts) run through any core Backend
// on image batches; its penultimate features are accumulated into Gaussian statistics (a stats file with
// the "emoji-classifier" convention, compared by compareStats like FID's) and its predictions are
// compared with the classes the samples were asked for.
import type { Backend, Session, SessionOptions } from "@flowturbo/core";
import { toHost } from "@flowturbo/core";
import { Tensor } from "@flowturbo/tensor";
import {
  type ClassifierInput,
  classifierFeatureDim,
  type EmojiClassifierConfig,
  emojiClassifierGraph,
} from "./emojiClassifier";
import type { FeatureConvention } from "./features";
import type { BatchSource, ImageBatch } from "./images";
import { type GaussianStats, StatsAccumulator } from "./stats";
import { STATS_FORMAT, type StatsFile } from "./statsFile";

/** A trained classifier: architecture, weights, class names and the file's sha256 (its identity). */
export interface EmojiClassifierModel {
  config: EmojiClassifierConfig;
  weights: ReadonlyMap<string, Tensor>;
  classNames: readonly string[];
  /** sha256 (hex) of the weights file: recorded in statistics so features of other weights never mix. */
  sha256: string;
  /** The file's other metadata (recipe, held-out accuracy...). */
  metadata?: Record<string, string>;
}

/** Features and logits of one batch, row-major. */
export interface ClassifierBatchOutput {
  count: number;
  /** [count, D] */
  features: Float32Array;
  /** [count, K] */
  logits: Float32Array;
}

/** Runs the emoji classifier on image batches (uint8 NHWC files, or [0, 1] float NCHW samples). */
export class EmojiFeatureExtractor {
  readonly batchSize: number;
  readonly dim: number;
  private readonly sessions = new Map<ClassifierInput, Promise<Session>>();

  constructor(
    readonly backend: Backend,
    readonly model: EmojiClassifierModel,
    private readonly options: { batchSize?: number; session?: SessionOptions } = {},
  ) {
    this.batchSize = options.batchSize ?? 64;
    this.dim = classifierFeatureDim(model.config);
  }

  convention(input: ClassifierInput = "uint8"): FeatureConvention {
    return { network: "emoji-classifier", input, preprocess: "emoji-classifier", weights: this.model.sha256 };
  }

  private session(kind: ClassifierInput): Promise<Session> {
    let s = this.sessions.get(kind);
    if (!s) {
      const graph = emojiClassifierGraph(this.model.config, this.batchSize, kind);
      s = this.backend.load({ graph, weights: this.model.weights }, this.options.session);
      this.sessions.set(kind, s);
      s.catch(() => this.sessions.delete(kind));
    }
    return s;
  }

  /** Features and logits of a batch of any size (split into / zero-padded to the session batch). */
  async extract(batch: ImageBatch): Promise<ClassifierBatchOutput> {
    const { count, height, width, kind } = batch;
    const size = this.model.config.inputSize;
    if (height !== size || width !== size)
      throw new Error(
        `the emoji classifier takes ${size}x${size} images, got ${width}x${height} (FD-emoji is for the emoji model's samples)`,
      );
    const per = height * width * 3;
    if (batch.data.length !== count * per)
      throw new Error(
        `image batch: ${batch.data.length} values are not ${count} images of ${width}x${height}x3`,
      );
    const session = await this.session(kind);
    const bs = this.batchSize;
    const k = this.model.config.numClasses;
    const out: ClassifierBatchOutput = {
      count,
      features: new Float32Array(count * this.dim),
      logits: new Float32Array(count * k),
    };
    for (let i = 0; i < count; i += bs) {
      const m = Math.min(bs, count - i);
      let x: Tensor;
      if (kind === "uint8") {
        const data = new Uint8Array(bs * per);
        data.set(batch.data.subarray(i * per, (i + m) * per));
        x = new Tensor("uint8", [bs, height, width, 3], data);
      } else {
        // [0, 1] -> [-1, 1] as the network's training inputs
        const data = new Float32Array(bs * per);
        const src = batch.data.subarray(i * per, (i + m) * per);
        for (let j = 0; j < src.length; j++) data[j] = 2 * src[j] - 1;
        x = new Tensor("float32", [bs, 3, height, width], data);
      }
      const res = await session.run({ x }, ["features", "logits"]);
      out.features.set((await toHost(res.features)).toFloat32().subarray(0, m * this.dim), i * this.dim);
      out.logits.set((await toHost(res.logits)).toFloat32().subarray(0, m * k), i * k);
    }
    return out;
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}

/** Index of the largest of each row of a row-major [count, k] array. */
export function argmaxRows(values: Float32Array, k: number): Int32Array {
  const n = values.length / k;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[r * k + j] > values[r * k + best]) best = j;
    out[r] = best;
  }
  return out;
}

/** How often the classifier puts a sample in the class it was generated for. */
export interface ClassAgreement {
  n: number;
  agree: number;
  /** agree / n */
  rate: number;
  /** Per requested class: samples and agreements. */
  perClass: { n: number; agree: number }[];
}

/**
 * Accumulates class agreement. `toLabel` maps a classifier class to the label space of the samples
 * (e.g. an emoji group to its category, for models conditioned on the 9 categories); identity by default.
 */
export class AgreementAccumulator {
  readonly perClass: { n: number; agree: number }[];

  constructor(
    readonly numLabels: number,
    private readonly toLabel?: readonly number[],
  ) {
    this.perClass = Array.from({ length: numLabels }, () => ({ n: 0, agree: 0 }));
  }

  add(predicted: ArrayLike<number>, labels: ArrayLike<number>): void {
    if (predicted.length !== labels.length)
      throw new Error(`${predicted.length} predictions for ${labels.length} labels`);
    for (let i = 0; i < labels.length; i++) {
      const want = labels[i];
      if (!(Number.isInteger(want) && want >= 0 && want < this.numLabels))
        throw new Error(`label ${want} is not in 0..${this.numLabels - 1}`);
      const got = this.toLabel ? this.toLabel[predicted[i]] : predicted[i];
      this.perClass[want].n++;
      if (got === want) this.perClass[want].agree++;
    }
  }

  result(): ClassAgreement {
    const n = this.perClass.reduce((a, c) => a + c.n, 0);
    const agree = this.perClass.reduce((a, c) => a + c.agree, 0);
    return { n, agree, rate: n ? agree / n : Number.NaN, perClass: this.perClass.map((c) => ({ ...c })) };
  }
}

/** A batch with the classes its images were generated for (when known). */
export interface LabelledBatch {
  batch: ImageBatch;
  labels?: ArrayLike<number>;
}

export interface EmojiEvalResult {
  n: number;
  stats: StatsFile;
  /** Present when every batch came with labels. */
  agreement?: ClassAgreement;
  /** Feature statistics per label (with `perLabel`; undefined for labels with fewer than 2 images). */
  perLabel?: (GaussianStats | undefined)[];
}

/**
 * The statistics of a mixture of per-class Gaussians with the given weights (default: equal), i.e. of a
 * set where every class has the same share: mu = sum w_c mu_c, sigma = sum w_c (sigma_c + (mu_c - mu)(mu_c - mu)^T).
 * A class-balanced reference for samples drawn with uniformly random labels, as FID's ImageNet reference
 * (50 images per class) is for ImageNet samples.
 */
export function mixtureStats(parts: readonly GaussianStats[], weights?: readonly number[]): GaussianStats {
  if (parts.length === 0) throw new Error("mixtureStats: no parts");
  const d = parts[0].dim;
  const w = weights ?? parts.map(() => 1 / parts.length);
  const total = w.reduce((a, b) => a + b, 0);
  const mu = new Float64Array(d);
  parts.forEach((p, k) => {
    if (p.dim !== d) throw new Error(`mixtureStats: dimensions ${p.dim} and ${d}`);
    for (let i = 0; i < d; i++) mu[i] += (w[k] / total) * p.mu[i];
  });
  const sigma = new Float64Array(d * d);
  parts.forEach((p, k) => {
    const f = w[k] / total;
    for (let i = 0; i < d; i++) {
      const di = p.mu[i] - mu[i];
      for (let j = 0; j < d; j++) sigma[i * d + j] += f * (p.sigma[i * d + j] + di * (p.mu[j] - mu[j]));
    }
  });
  const n = parts.reduce((a, p) => a + (p.n ?? 0), 0);
  return { dim: d, mu, sigma, n: n || undefined };
}

/**
 * One pass of the classifier over labelled batches: feature statistics (a stats file, convention
 * "emoji-classifier" with the weights' sha256) and, when labels are given, class agreement.
 */
export async function emojiEvaluate(
  extractor: EmojiFeatureExtractor,
  batches: AsyncIterable<LabelledBatch> | Iterable<LabelledBatch>,
  options: {
    limit?: number;
    source?: string;
    /** Number of label values (default: the classifier's classes). */
    numLabels?: number;
    /** Classifier class -> label (see AgreementAccumulator). */
    toLabel?: readonly number[];
    /** Also keep feature statistics per label (for class-balanced references). */
    perLabel?: boolean;
    onProgress?: (done: number) => void;
  } = {},
): Promise<EmojiEvalResult> {
  const acc = new StatsAccumulator(extractor.dim);
  const byLabel = new Map<number, StatsAccumulator>();
  const k = extractor.model.config.numClasses;
  const agreement = new AgreementAccumulator(options.numLabels ?? k, options.toLabel);
  let labelled = true;
  let kind: ImageBatch["kind"] | undefined;
  let done = 0;
  for await (const item of batches) {
    let { batch, labels } = item;
    if (options.limit !== undefined) {
      if (done >= options.limit) break;
      if (done + batch.count > options.limit) {
        const count = options.limit - done;
        const per = batch.height * batch.width * 3;
        batch = { ...batch, count, data: batch.data.subarray(0, count * per) } as ImageBatch;
        labels = labels ? Array.from(labels).slice(0, count) : undefined;
      }
    }
    if (kind && batch.kind !== kind) throw new Error("uint8 and float images in one set");
    kind = batch.kind;
    const f = await extractor.extract(batch);
    acc.add(f.features, f.count);
    if (labels) agreement.add(argmaxRows(f.logits, k), labels);
    else labelled = false;
    if (options.perLabel && labels)
      for (let i = 0; i < f.count; i++) {
        let a = byLabel.get(labels[i]);
        if (!a) {
          a = new StatsAccumulator(extractor.dim);
          byLabel.set(labels[i], a);
        }
        a.add(f.features.subarray(i * extractor.dim, (i + 1) * extractor.dim), 1);
      }
    done += batch.count;
    options.onProgress?.(done);
  }
  if (!kind) throw new Error("no images were given");
  const stats: StatsFile = {
    pool: acc.stats(),
    meta: {
      format: STATS_FORMAT,
      version: 1,
      n: acc.n,
      convention: extractor.convention(kind),
      source: options.source,
    },
  };
  const numLabels = options.numLabels ?? k;
  const perLabel =
    options.perLabel && labelled
      ? Array.from({ length: numLabels }, (_, c) => {
          const a = byLabel.get(c);
          return a && a.n >= 2 ? a.stats() : undefined;
        })
      : undefined;
  return { n: acc.n, stats, agreement: labelled ? agreement.result() : undefined, perLabel };
}

/** Labelled batches of a set of same-size uint8 NHWC images (e.g. a dataset in memory). */
export function* uint8Batches(
  images: Uint8Array,
  count: number,
  size: number,
  batchSize: number,
  labels?: ArrayLike<number>,
  indices?: ArrayLike<number>,
): Generator<LabelledBatch> {
  const per = size * size * 3;
  const total = indices ? indices.length : count;
  for (let i = 0; i < total; i += batchSize) {
    const m = Math.min(batchSize, total - i);
    const data = new Uint8Array(m * per);
    const lab: number[] = [];
    for (let j = 0; j < m; j++) {
      const src = indices ? indices[i + j] : i + j;
      data.set(images.subarray(src * per, (src + 1) * per), j * per);
      if (labels) lab.push(labels[src]);
    }
    yield {
      batch: { kind: "uint8", data, count: m, height: size, width: size },
      labels: labels ? lab : undefined,
    };
  }
}

/** Adapts unlabelled image batches. */
export async function* unlabelled(batches: BatchSource): AsyncGenerator<LabelledBatch> {
  for await (const batch of batches) yield { batch };
}
