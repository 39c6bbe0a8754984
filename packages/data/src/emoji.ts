// The emoji demo dataset: ~7,500 32x32 emoji images (Noto Emoji and Twemoji, skin-tone variants included)
// on white, labelled with their Unicode category. Built by tools/emoji-dataset from the npm packages
// emoji-datasource-google and emoji-datasource-twitter; shipped as assets/emoji32.npz.

import { openNpz, type SourceLike, Tensor } from "@flowturbo/tensor";
import { nhwcImage, type RgbImage, rgbToChwInto } from "./image";
import { flipFor, type ShardSpec, sampleOrder } from "./sampling";

/**
 * The classes of the emoji dataset, in Unicode's category order (class id = index). A class-conditional
 * model over them has 9 classes and null class 9.
 */
export const EMOJI_CATEGORIES: readonly string[] = Object.freeze([
  "Smileys & Emotion",
  "People & Body",
  "Animals & Nature",
  "Food & Drink",
  "Travel & Places",
  "Activities",
  "Objects",
  "Symbols",
  "Flags",
]);

/** Categories of emoji.json left out: "Component" holds only the 5 skin-tone swatches. */
export const EMOJI_EXCLUDED_CATEGORIES: readonly string[] = Object.freeze(["Component"]);

/** Side of the emoji images (pixels). */
export const EMOJI_IMAGE_SIZE = 32;

/** File name of the dataset inside @flowturbo/data (`@flowturbo/data/emoji32.npz`). */
export const EMOJI_DATASET_FILE = "emoji32.npz";

/** One emoji: image [3, 32, 32] float32 in [-1, 1], its category id, and provenance. */
export interface EmojiSample {
  image: Tensor<"float32">;
  label: number;
  category: string;
  /** Unicode code points, e.g. "1F600" or "1F44B-1F3FB". */
  unified: string;
  /** Short name, ":skin-tone" suffixed for variants, e.g. "wave:1F3FB". */
  name: string;
  source: "google" | "twitter";
  index: number;
}

/** A batch: images [B, 3, 32, 32] float32 in [-1, 1] and labels [B] int64. */
export interface EmojiBatch {
  images: Tensor<"float32">;
  labels: Tensor<"int64">;
  indices: Int32Array;
}

export interface EmojiBatchOptions {
  batchSize: number;
  /** Shuffle seed (default 0) and epoch: the order is a function of (seed, epoch). */
  seed?: number;
  epoch?: number;
  /** Shuffle (default true). */
  shuffle?: boolean;
  /** Mirror each image with probability 1/2, deterministically per (seed, epoch, index) (default false). */
  randomFlip?: boolean;
  /** This process's share of the data (see `sampleOrder`). */
  shard?: ShardSpec;
  /** Drop a last partial batch (default false). */
  dropLast?: boolean;
}

/** The decoded emoji dataset. */
export class EmojiDataset {
  /** uint8 NHWC [N, 32, 32, 3]. */
  readonly images: Tensor<"uint8">;
  /** Category id per image. */
  readonly labels: Uint8Array;
  /** 0 = google (Noto Emoji), 1 = twitter (Twemoji). */
  readonly source: Uint8Array;
  /** 0 = base emoji, 1 = skin-tone variant. */
  readonly variant: Uint8Array;
  readonly categories: readonly string[];
  readonly unified: readonly string[];
  readonly names: readonly string[];
  /** Everything in the file's meta.json (provenance, licenses). */
  readonly meta: Record<string, unknown>;

  constructor(fields: {
    images: Tensor<"uint8">;
    labels: Uint8Array;
    source: Uint8Array;
    variant: Uint8Array;
    meta: Record<string, unknown>;
  }) {
    const n = fields.images.shape[0];
    for (const [k, v] of [
      ["labels", fields.labels],
      ["source", fields.source],
      ["variant", fields.variant],
    ] as const) {
      if (v.length !== n) throw new Error(`emoji dataset: ${k} has ${v.length} entries for ${n} images`);
    }
    this.images = fields.images;
    this.labels = fields.labels;
    this.source = fields.source;
    this.variant = fields.variant;
    this.meta = fields.meta;
    this.categories = (fields.meta.categories as string[] | undefined) ?? EMOJI_CATEGORIES;
    this.unified = (fields.meta.unified as string[] | undefined) ?? [];
    this.names = (fields.meta.names as string[] | undefined) ?? [];
  }

  get length(): number {
    return this.images.shape[0];
  }

  get numClasses(): number {
    return this.categories.length;
  }

  /** Image i as 8-bit RGB (a view). */
  rgb(i: number): RgbImage {
    return nhwcImage(this.images, i);
  }

  /** Sample i as a model input (optionally mirrored). */
  get(i: number, flip = false): EmojiSample {
    const img = this.rgb(i);
    const data = new Float32Array(3 * img.width * img.height);
    rgbToChwInto(img, data, 0, flip);
    const label = this.labels[i];
    return {
      image: new Tensor("float32", [3, img.height, img.width], data),
      label,
      category: this.categories[label],
      unified: this.unified[i] ?? "",
      name: this.names[i] ?? "",
      source: this.source[i] === 0 ? "google" : "twitter",
      index: i,
    };
  }

  /** Number of images per class id. */
  classCounts(): number[] {
    const counts = new Array<number>(this.numClasses).fill(0);
    for (const l of this.labels) counts[l]++;
    return counts;
  }

  /** Indices of the images matching a predicate (e.g. only base emoji, only one source). */
  filter(pred: (i: number, ds: this) => boolean): Int32Array {
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) if (pred(i, this)) out.push(i);
    return Int32Array.from(out);
  }

  /**
   * Deterministic mini-batches: order from `sampleOrder(n, seed, epoch)`, flips from `flipFor`.
   * `subset` restricts to given image indices (e.g. from `filter`).
   */
  *batches(options: EmojiBatchOptions, subset?: ArrayLike<number>): Generator<EmojiBatch> {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batchSize must be >= 1, got ${batchSize}`);
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    const n = subset ? subset.length : this.length;
    const order = sampleOrder(n, { seed, epoch, shuffle: options.shuffle ?? true, shard: options.shard });
    const plane = EMOJI_IMAGE_SIZE * EMOJI_IMAGE_SIZE * 3;
    for (let start = 0; start < order.length; start += batchSize) {
      const count = Math.min(batchSize, order.length - start);
      if (count < batchSize && options.dropLast) break;
      const data = new Float32Array(count * plane);
      const labels = new BigInt64Array(count);
      const indices = new Int32Array(count);
      for (let b = 0; b < count; b++) {
        const pos = order[start + b];
        const i = subset ? subset[pos] : pos;
        const flip = options.randomFlip ? flipFor(seed, epoch, i) : false;
        rgbToChwInto(this.rgb(i), data, b * plane, flip);
        labels[b] = BigInt(this.labels[i]);
        indices[b] = i;
      }
      yield {
        images: new Tensor("float32", [count, 3, EMOJI_IMAGE_SIZE, EMOJI_IMAGE_SIZE], data),
        labels: new Tensor("int64", [count], labels),
        indices,
      };
    }
  }
}

/** Decodes emoji32.npz (bytes or a ByteSource). Works in Node and browsers. */
export async function decodeEmojiDataset(source: SourceLike): Promise<EmojiDataset> {
  const npz = await openNpz(source, { name: EMOJI_DATASET_FILE });
  const images = (await npz.read("images")) as Tensor<"uint8">;
  if (images.dtype !== "uint8" || images.rank !== 4 || images.shape[3] !== 3)
    throw new Error(`${EMOJI_DATASET_FILE}: images must be uint8 [N, H, W, 3], got ${images}`);
  const u8 = async (name: string) => {
    const t = await npz.read(name);
    if (t.dtype !== "uint8") throw new Error(`${EMOJI_DATASET_FILE}: ${name} must be uint8, got ${t.dtype}`);
    return t.data as Uint8Array;
  };
  const metaEntry = npz.zip.get("meta.json");
  const meta = metaEntry ? JSON.parse(new TextDecoder().decode(await npz.zip.read(metaEntry))) : {};
  return new EmojiDataset({
    images,
    labels: await u8("labels"),
    source: await u8("source"),
    variant: await u8("variant"),
    meta,
  });
}

/**
 * Loads the emoji dataset in a browser (or any runtime with fetch): from bytes, or from a URL where the
 * app serves `@flowturbo/data/emoji32.npz` (e.g. `new URL("@flowturbo/data/emoji32.npz", import.meta.url)`
 * with a bundler). In Node, `loadEmojiDataset()` from "@flowturbo/data/node" reads the bundled file.
 */
export async function emojiDataset(
  from: { bytes: Uint8Array } | { url: string | URL },
): Promise<EmojiDataset> {
  if ("bytes" in from) return decodeEmojiDataset(from.bytes);
  const res = await fetch(from.url);
  if (!res.ok) throw new Error(`${String(from.url)}: HTTP ${res.status} ${res.statusText}`);
  return decodeEmojiDataset(new Uint8Array(await res.arrayBuffer()));
}
