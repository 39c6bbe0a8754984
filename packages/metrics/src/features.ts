// The feature extractor (FID Inception through any core Backend) and the streaming pass that turns
// images into FID/sFID statistics, Inception-Score sums and, optionally, pool3 features for
// precision/recall.
import type { Backend, Session, SessionOptions } from "@flowturbo/core";
import { toHost } from "@flowturbo/core";
import { Tensor } from "@flowturbo/tensor";
import type { BatchSource, ImageBatch } from "./images";
import {
  fidInceptionGraph,
  type InceptionInput,
  type InceptionOutput,
  type InceptionPreprocess,
  inceptionWeights,
} from "./inception";
import { InceptionScoreAccumulator, type InceptionScoreResult } from "./inceptionScore";
import { type GaussianStats, StatsAccumulator } from "./stats";

/** Which network and input pipeline produced a set of features (recorded in stats files). */
export interface FeatureConvention {
  /**
   * pytorch-fid's port of the 2015-12-05 TF Inception (pt_inception-2015-12-05-6726825d.pth), or the
   * repository's emoji classifier (penultimate features; see emojiFeatures.ts).
   */
  network: "pt_inception-2015-12-05" | "emoji-classifier";
  /** "float": [0,1] floats without quantization (FlowTurbo); "uint8": 8-bit images (files, ADM sample npz). */
  input: InceptionInput;
  preprocess: InceptionPreprocess | "emoji-classifier";
  /** The emoji classifier's weights (sha256 of its file): features of other weights do not compare. */
  weights?: string;
}

export interface ExtractorOptions {
  /** Images per session run (the graph is built for this batch; a short last batch is zero-padded). Default 32. */
  batchSize?: number;
  preprocess?: InceptionPreprocess;
  /** Passed to Backend.load (providers, threads). */
  session?: SessionOptions;
}

/** Features of one batch, row-major, `count` rows each. */
export interface BatchFeatures {
  count: number;
  /** [count, 2048] */
  pool3: Float32Array;
  /** [count, 2023] */
  spatial: Float32Array;
  /** [count, 1008] pool3 @ fc.weight^T (ADM's IS logits, no bias) */
  logitsNoBias: Float32Array;
  /** [count, 1008] with fc.bias, only when requested */
  logits?: Float32Array;
}

/**
 * Runs the FID Inception on image batches through a Backend (ORT CPU/CUDA/WebGPU, or the reference
 * interpreter). One session per input kind and image size, built on first use.
 */
export class InceptionExtractor {
  readonly batchSize: number;
  readonly preprocess: InceptionPreprocess;
  private readonly sessions = new Map<string, Promise<Session>>();
  private weights: Map<string, Tensor> | undefined;

  constructor(
    readonly backend: Backend,
    private readonly stateDict: ReadonlyMap<string, Tensor>,
    private readonly options: ExtractorOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 32;
    this.preprocess = options.preprocess ?? "pytorch-fid";
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new Error(`bad batch size ${this.batchSize}`);
  }

  convention(input: InceptionInput): FeatureConvention {
    return { network: "pt_inception-2015-12-05", input, preprocess: this.preprocess };
  }

  private session(kind: InceptionInput, height: number, width: number): Promise<Session> {
    const key = `${kind}:${height}x${width}`;
    let s = this.sessions.get(key);
    if (!s) {
      const graph = fidInceptionGraph({
        batch: this.batchSize,
        height,
        width,
        input: kind,
        preprocess: this.preprocess,
      });
      this.weights ??= inceptionWeights(graph, this.stateDict);
      s = this.backend.load({ graph, weights: this.weights }, this.options.session);
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  /** Features of a batch of any size (split into / padded to the session batch). */
  async extract(batch: ImageBatch, options: { withBiasLogits?: boolean } = {}): Promise<BatchFeatures> {
    const { count, height, width, kind } = batch;
    const per = height * width * 3;
    if (!Number.isInteger(count) || count < 1 || batch.data.length !== count * per) {
      throw new Error(
        `image batch: ${batch.data.length} values are not ${count} images of ${width}x${height}x3`,
      );
    }
    const session = await this.session(kind, height, width);
    const bs = this.batchSize;
    const out: BatchFeatures = {
      count,
      pool3: new Float32Array(count * 2048),
      spatial: new Float32Array(count * 2023),
      logitsNoBias: new Float32Array(count * 1008),
      logits: options.withBiasLogits ? new Float32Array(count * 1008) : undefined,
    };
    const names: InceptionOutput[] = ["pool3", "spatial", "logits_nobias"];
    if (options.withBiasLogits) names.push("logits");
    for (let i = 0; i < count; i += bs) {
      const m = Math.min(bs, count - i);
      const x =
        kind === "uint8"
          ? new Tensor(
              "uint8",
              [bs, height, width, 3],
              padded(batch.data, i * per, m * per, bs * per, Uint8Array),
            )
          : new Tensor(
              "float32",
              [bs, 3, height, width],
              padded(batch.data, i * per, m * per, bs * per, Float32Array),
            );
      const res = await session.run({ x }, names);
      const take = async (name: InceptionOutput, dst: Float32Array, d: number) => {
        const t = await toHost(res[name]);
        dst.set(t.toFloat32().subarray(0, m * d), i * d);
      };
      await take("pool3", out.pool3, 2048);
      await take("spatial", out.spatial, 2023);
      await take("logits_nobias", out.logitsNoBias, 1008);
      if (out.logits) await take("logits", out.logits, 1008);
    }
    return out;
  }

  /** Releases the sessions (the backend stays usable). */
  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}

function padded<T extends Uint8Array | Float32Array>(
  src: T,
  offset: number,
  length: number,
  total: number,
  ctor: { new (n: number): T },
): T {
  const view = src.subarray(offset, offset + length) as T;
  if (length === total) return view;
  const out = new ctor(total);
  out.set(view);
  return out;
}

export interface FeatureOptions {
  /** Keep the pool3 rows (needed for precision/recall; 8 KB per image). */
  keepPool3?: boolean;
  /** Inception-Score split size (ADM: 5000). */
  splitSize?: number;
  /** Stop after this many images. */
  limit?: number;
  /** Called after every batch with the number of images done. */
  onProgress?: (done: number) => void;
  signal?: AbortSignal;
}

/** Everything one pass over a set of images yields. */
export interface FeatureSummary {
  n: number;
  convention: FeatureConvention;
  /** pool3 statistics (FID). */
  pool: GaussianStats;
  /** Mixed_6d branch1x1 channels 0..6 statistics (sFID). */
  spatial: GaussianStats;
  /** ADM convention: softmax of the bias-free logits, splits of `splitSize`. */
  inceptionScore: InceptionScoreResult;
  /** [n, 2048] when keepPool3. */
  pool3?: Float32Array;
}

/** Accumulators of one feature pass; shards can be merged before `summary()`. */
export class FeatureAccumulator {
  readonly pool = new StatsAccumulator(2048);
  readonly spatial = new StatsAccumulator(2023);
  readonly is: InceptionScoreAccumulator;
  private readonly kept: Float32Array[] = [];
  private convention: FeatureConvention | undefined;

  constructor(private readonly options: { keepPool3?: boolean; splitSize?: number } = {}) {
    this.is = new InceptionScoreAccumulator(1008, { splitSize: options.splitSize });
  }

  get n(): number {
    return this.pool.n;
  }

  add(f: BatchFeatures, convention: FeatureConvention): void {
    if (this.convention && JSON.stringify(this.convention) !== JSON.stringify(convention)) {
      throw new Error(
        `features of different conventions in one set: ${JSON.stringify(this.convention)} and ${JSON.stringify(convention)}`,
      );
    }
    this.convention = convention;
    this.pool.add(f.pool3, f.count);
    this.spatial.add(f.spatial, f.count);
    this.is.add(f.logitsNoBias, f.count);
    if (this.options.keepPool3) this.kept.push(f.pool3.slice());
  }

  summary(): FeatureSummary {
    if (!this.convention) throw new Error("no images were given");
    let pool3: Float32Array | undefined;
    if (this.options.keepPool3) {
      pool3 = new Float32Array(this.n * 2048);
      let o = 0;
      for (const k of this.kept) {
        pool3.set(k, o);
        o += k.length;
      }
    }
    return {
      n: this.n,
      convention: this.convention,
      pool: this.pool.stats(),
      spatial: this.spatial.stats(),
      inceptionScore: this.is.result(),
      pool3,
    };
  }
}

/** One pass over image batches: statistics, Inception Score and (optionally) the pool3 rows. */
export async function computeFeatures(
  extractor: InceptionExtractor,
  batches: BatchSource,
  options: FeatureOptions = {},
): Promise<FeatureSummary> {
  const acc = new FeatureAccumulator(options);
  let done = 0;
  for await (let batch of batches) {
    options.signal?.throwIfAborted();
    if (options.limit !== undefined) {
      if (done >= options.limit) break;
      if (done + batch.count > options.limit) batch = truncate(batch, options.limit - done);
    }
    const f = await extractor.extract(batch);
    acc.add(f, extractor.convention(batch.kind));
    done += batch.count;
    options.onProgress?.(done);
  }
  return acc.summary();
}

function truncate(b: ImageBatch, count: number): ImageBatch {
  const per = b.height * b.width * 3;
  return b.kind === "uint8"
    ? { ...b, count, data: b.data.subarray(0, count * per) }
    : { ...b, count, data: b.data.subarray(0, count * per) };
}
