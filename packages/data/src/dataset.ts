// Image datasets over any storage: a list of (path, label) items plus injected `read` and `decode`
// functions (Node: fs + sharp from "@flowturbo/data/node"; browsers: fetch/File + createImageBitmap).
// Items go through ADM's center crop, optional deterministic flips, and become CHW float32 in [-1, 1].

import { type Seed, Tensor } from "@flowturbo/tensor";
import type { ClassAssignment } from "./classmap";
import { type RgbImage, rgbToChwInto } from "./image";
import { centerCropArr } from "./resample";
import { flipFor, type ShardSpec, sampleOrder } from "./sampling";

/** One image of a dataset: where it is and its model class id (-1: unlabeled). */
export interface ImageItem {
  path: string;
  label: number;
}

/** How a dataset reads and decodes its images. */
export interface ImageIO {
  read(path: string): Promise<Uint8Array>;
  decode(bytes: Uint8Array, path: string): Promise<RgbImage>;
}

/** An image could not be read or decoded; `path` says which. */
export class ImageLoadError extends Error {
  override name = "ImageLoadError";
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    super(`${path}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** What to do with an image that cannot be read or decoded. */
export type OnImageError = "throw" | "skip";

export interface ImageDatasetOptions {
  /** Side of the square model input: ADM `center_crop_arr(image, imageSize)`. */
  imageSize: number;
  /** "throw" (default) stops at the first bad image; "skip" reports it (`onSkip`) and goes on. */
  onError?: OnImageError;
  /** Called for each skipped image (default: console.warn of the error message). */
  onSkip?: (error: ImageLoadError) => void;
  /** Images read and decoded at once in `batches` (default 4). */
  concurrency?: number;
  /** The class assignment the labels came from (kept for reporting). */
  classes?: ClassAssignment;
}

/** One loaded sample. */
export interface LoadedImage {
  index: number;
  path: string;
  label: number;
  /** The cropped imageSize x imageSize RGB image (before any flip). */
  rgb: RgbImage;
}

export interface BatchOptions {
  batchSize: number;
  /** Seed of shuffling and flips (default 0) and epoch (default 0): the batches are a function of both. */
  seed?: Seed;
  epoch?: number;
  /** Shuffle (default true). */
  shuffle?: boolean;
  /** Random horizontal flip with probability 1/2 per (seed, epoch, sample index) (default false). */
  randomFlip?: boolean;
  /** This process's share (see `sampleOrder`). */
  shard?: ShardSpec;
  /** Drop a last partial batch (default false). */
  dropLast?: boolean;
}

/** A batch of model inputs. Skipped (bad) images are replaced by the next ones in the order. */
export interface ImageBatch {
  /** [B, 3, S, S] float32 in [-1, 1]. */
  images: Tensor<"float32">;
  /** [B] int64 model class ids (-1 for unlabeled items). */
  labels: Tensor<"int64">;
  indices: Int32Array;
  paths: string[];
  flipped: Uint8Array;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: ImageLoadError };

/** An image dataset: items, class assignment, loading, deterministic batches. */
export class ImageDataset {
  readonly items: readonly ImageItem[];
  readonly imageSize: number;
  readonly classes: ClassAssignment | undefined;
  /** Paths skipped so far (with onError "skip"). */
  readonly skipped = new Map<string, ImageLoadError>();
  private readonly io: ImageIO;
  private readonly options: ImageDatasetOptions;

  constructor(items: readonly ImageItem[], io: ImageIO, options: ImageDatasetOptions) {
    if (!Number.isInteger(options.imageSize) || options.imageSize < 1)
      throw new Error(`imageSize must be a positive integer, got ${options.imageSize}`);
    this.items = items;
    this.io = io;
    this.options = options;
    this.imageSize = options.imageSize;
    this.classes = options.classes;
  }

  get length(): number {
    return this.items.length;
  }

  /** The model's number of classes, when the dataset is labelled. */
  get numClasses(): number | undefined {
    return this.classes?.numClasses;
  }

  /** Reads, decodes and center-crops item `index`; errors are `ImageLoadError`s with the path. */
  async load(index: number): Promise<LoadedImage> {
    const item = this.items[index];
    if (!item) throw new RangeError(`sample index ${index} out of range [0, ${this.length})`);
    let rgb: RgbImage;
    try {
      const bytes = await this.io.read(item.path);
      rgb = centerCropArr(await this.io.decode(bytes, item.path), this.imageSize);
    } catch (err) {
      throw err instanceof ImageLoadError ? err : new ImageLoadError(item.path, err);
    }
    return { index, path: item.path, label: item.label, rgb };
  }

  /** Item `index` as a model input [3, S, S] in [-1, 1]. */
  async get(index: number, flip = false): Promise<{ image: Tensor<"float32">; label: number; path: string }> {
    const s = await this.load(index);
    const data = new Float32Array(3 * this.imageSize * this.imageSize);
    rgbToChwInto(s.rgb, data, 0, flip);
    return {
      image: new Tensor("float32", [3, this.imageSize, this.imageSize], data),
      label: s.label,
      path: s.path,
    };
  }

  private report(err: ImageLoadError): void {
    this.skipped.set(err.path, err);
    if (this.options.onSkip) this.options.onSkip(err);
    else console.warn(`skipping ${err.message}`);
  }

  /**
   * Loads the items at `positions` (dataset indices) in order with bounded concurrency, yielding each
   * success; failures throw or are skipped per `onError`.
   */
  async *loadInOrder(indices: ArrayLike<number>): AsyncGenerator<LoadedImage> {
    const concurrency = Math.max(1, this.options.concurrency ?? 4);
    const pending: Promise<Settled<LoadedImage>>[] = [];
    let next = 0;
    const start = () => {
      const i = indices[next++];
      pending.push(
        this.load(i).then(
          (value) => ({ ok: true as const, value }),
          (error) => ({ ok: false as const, error: error as ImageLoadError }),
        ),
      );
    };
    while (next < indices.length && pending.length < concurrency) start();
    while (pending.length > 0) {
      const r = await pending.shift()!;
      if (next < indices.length) start();
      if (r.ok) yield r.value;
      else if ((this.options.onError ?? "throw") === "skip" && r.error instanceof ImageLoadError)
        this.report(r.error);
      else throw r.error;
    }
  }

  /** Mini-batches in the (seed, epoch, shard) order; see `BatchOptions`. */
  async *batches(options: BatchOptions): AsyncGenerator<ImageBatch> {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batchSize must be >= 1, got ${batchSize}`);
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    const order = sampleOrder(this.length, {
      seed,
      epoch,
      shuffle: options.shuffle ?? true,
      shard: options.shard,
    });
    const size = this.imageSize;
    const plane = 3 * size * size;
    let buf: LoadedImage[] = [];
    const make = (group: LoadedImage[]): ImageBatch => {
      const data = new Float32Array(group.length * plane);
      const flipped = new Uint8Array(group.length);
      group.forEach((s, b) => {
        flipped[b] = options.randomFlip && flipFor(seed, epoch, s.index) ? 1 : 0;
        rgbToChwInto(s.rgb, data, b * plane, flipped[b] === 1);
      });
      return {
        images: new Tensor("float32", [group.length, 3, size, size], data),
        labels: new Tensor(
          "int64",
          [group.length],
          BigInt64Array.from(group, (s) => BigInt(s.label)),
        ),
        indices: Int32Array.from(group, (s) => s.index),
        paths: group.map((s) => s.path),
        flipped,
      };
    };
    for await (const s of this.loadInOrder(order)) {
      buf.push(s);
      if (buf.length === batchSize) {
        yield make(buf);
        buf = [];
      }
    }
    if (buf.length > 0 && !options.dropLast) yield make(buf);
  }
}
