/// <reference types="node" />
// The latent cache: a dataset encoded through the VAE once, into sharded safetensors files with an index
// (index.json: shard files, sha256, counts, dataset fingerprint, options). Building is resumable (each
// shard and the index are written to a temp file and renamed, so a crash leaves only whole files) and
// loading verifies checksums.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  openSafetensors,
  readAt,
  type SafetensorsFile,
  safetensorsChunks,
  type Seed,
  Tensor,
} from "@flowturbo/tensor";
import { fileSource, type FileSource } from "@flowturbo/tensor/node";
import type { ImageDataset } from "../dataset";
import { type RgbImage, rgbToChwInto } from "../image";
import type { LatentEncoder } from "../latents";
import { flipFor, type ShardSpec, sampleOrder } from "../sampling";

export const LATENT_CACHE_FORMAT = "flowturbo-latent-cache";
export const LATENT_CACHE_VERSION = 1;
export const LATENT_CACHE_INDEX = "index.json";

/** A latent cache's problem (mismatched options, corrupt shard, incomplete cache); names the file. */
export class LatentCacheError extends Error {
  override name = "LatentCacheError";
}

/** Options that define the cache's content: a resumed build must use the same. */
export interface LatentCacheOptions {
  /** "both" (default) stores each image and its mirror (FlowTurbo trains with random h-flips); "none". */
  flips: "none" | "both";
  /** Storage dtype of mean and std (default "float32"; "float16" halves the size). */
  dtype: "float32" | "float16";
  /** Dataset images per shard (default 1024). */
  shardSize: number;
  /** Free-form id of the encoder (e.g. "sd-vae-ft-ema"), checked on resume (default ""). */
  encoder: string;
}

export interface LatentShardInfo {
  file: string;
  sha256: string;
  bytes: number;
  /** Rows stored (images x flips, less skipped images). */
  rows: number;
  /** First dataset index and number of dataset images the shard covers. */
  first: number;
  images: number;
  /** Paths of images that could not be loaded (skipped with onError "skip"). */
  skipped: string[];
}

export interface LatentCacheIndex {
  format: typeof LATENT_CACHE_FORMAT;
  version: number;
  /** sha256 over the dataset's (path, label) list and image size. */
  fingerprint: string;
  options: LatentCacheOptions & { imageSize: number };
  dataset: { images: number; numClasses: number | null; classMode: string | null };
  /** [C, h, w] of one latent (known after the first shard). */
  latentShape: number[] | null;
  numShards: number;
  /** Finished shards, by shard number (missing ones are still to be built). */
  shards: (LatentShardInfo | null)[];
  complete: boolean;
}

export interface BuildLatentCacheOptions extends Partial<LatentCacheOptions> {
  /** Images per encoder call (default 16). */
  batchSize?: number;
  /** Start over when the directory holds a cache with other content or options (default false: error). */
  overwrite?: boolean;
  /** Re-hash finished shards when resuming and rebuild any that do not match (default true). */
  verifyOnResume?: boolean;
  /** Progress after each encoder batch and each shard. */
  onProgress?: (p: { shard: number; numShards: number; imagesDone: number; images: number }) => void;
}

function shardName(k: number): string {
  return `shard-${String(k).padStart(5, "0")}.safetensors`;
}

/** sha256 of the dataset's content description: image size, then every (path, label). */
export function datasetFingerprint(dataset: ImageDataset): string {
  const h = createHash("sha256");
  h.update(`flowturbo-dataset\n${dataset.imageSize}\n${dataset.length}\n`);
  for (const it of dataset.items) h.update(`${it.path}\t${it.label}\n`);
  return h.digest("hex");
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function writeAtomic(
  path: string,
  chunks: Iterable<Uint8Array>,
): Promise<{ sha256: string; bytes: number }> {
  const tmp = `${path}.${process.pid}.tmp`;
  const h = createHash("sha256");
  let bytes = 0;
  const fh = await open(tmp, "w");
  try {
    for (const c of chunks) {
      h.update(c);
      let done = 0;
      while (done < c.byteLength) done += (await fh.write(c, done, c.byteLength - done)).bytesWritten;
      bytes += c.byteLength;
    }
    await fh.sync();
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, path);
  return { sha256: h.digest("hex"), bytes };
}

async function writeIndex(dir: string, index: LatentCacheIndex): Promise<void> {
  const tmp = join(dir, `${LATENT_CACHE_INDEX}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(index, null, 1)}\n`);
  await rename(tmp, join(dir, LATENT_CACHE_INDEX));
}

async function readIndex(dir: string): Promise<LatentCacheIndex | undefined> {
  const path = join(dir, LATENT_CACHE_INDEX);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let index: LatentCacheIndex;
  try {
    index = JSON.parse(text);
  } catch (err) {
    throw new LatentCacheError(`${path}: invalid JSON (${(err as Error).message})`);
  }
  if (index.format !== LATENT_CACHE_FORMAT || index.version !== LATENT_CACHE_VERSION)
    throw new LatentCacheError(`${path}: not a ${LATENT_CACHE_FORMAT} v${LATENT_CACHE_VERSION} index`);
  return index;
}

function toDtype(t: Tensor, dtype: "float32" | "float16"): Tensor {
  if (t.dtype === dtype) return t;
  return t.astype(dtype);
}

/**
 * Encodes `dataset` (ADM center crop at dataset.imageSize, optional mirrors) with `encode` into `dir`:
 * shard k holds dataset images [k*shardSize, (k+1)*shardSize) as tensors `mean`, `std` [R, C, h, w],
 * `label` int64 [R], `index` int64 [R] (dataset index) and `flip` uint8 [R]. Re-running after a crash
 * (or an encoder error) keeps the finished shards and continues; a finished cache returns at once.
 */
export async function buildLatentCache(
  dataset: ImageDataset,
  dir: string,
  encode: LatentEncoder,
  options: BuildLatentCacheOptions = {},
): Promise<LatentCacheIndex> {
  const opts: LatentCacheOptions & { imageSize: number } = {
    flips: options.flips ?? "both",
    dtype: options.dtype ?? "float32",
    shardSize: options.shardSize ?? 1024,
    encoder: options.encoder ?? "",
    imageSize: dataset.imageSize,
  };
  if (!Number.isInteger(opts.shardSize) || opts.shardSize < 1)
    throw new Error(`shardSize must be >= 1, got ${opts.shardSize}`);
  const batchSize = options.batchSize ?? 16;
  await mkdir(dir, { recursive: true });
  const fingerprint = datasetFingerprint(dataset);
  const numShards = Math.ceil(dataset.length / opts.shardSize);
  let index = await readIndex(dir);
  if (index) {
    const problems: string[] = [];
    if (index.fingerprint !== fingerprint) problems.push("the dataset (paths, labels or image size) differs");
    for (const k of Object.keys(opts) as (keyof typeof opts)[]) {
      if (index.options[k] !== opts[k])
        problems.push(`${k}: cache ${JSON.stringify(index.options[k])}, now ${JSON.stringify(opts[k])}`);
    }
    if (problems.length > 0) {
      if (!options.overwrite)
        throw new LatentCacheError(
          `${join(dir, LATENT_CACHE_INDEX)}: the cache was built with other content (${problems.join("; ")}); ` +
            "use another directory or overwrite: true",
        );
      for (const s of index.shards) if (s) await rm(join(dir, s.file), { force: true });
      index = undefined;
    }
  }
  // Leftovers of interrupted writes.
  for (const name of await readdir(dir))
    if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
  if (!index) {
    index = {
      format: LATENT_CACHE_FORMAT,
      version: LATENT_CACHE_VERSION,
      fingerprint,
      options: opts,
      dataset: {
        images: dataset.length,
        numClasses: dataset.numClasses ?? null,
        classMode: dataset.classes?.mode ?? null,
      },
      latentShape: null,
      numShards,
      shards: new Array(numShards).fill(null),
      complete: false,
    };
    await writeIndex(dir, index);
  } else if (options.verifyOnResume ?? true) {
    for (let k = 0; k < index.shards.length; k++) {
      const s = index.shards[k];
      if (!s) continue;
      const ok = await stat(join(dir, s.file)).then(
        (st) => st.size === s.bytes,
        () => false,
      );
      if (!ok || (await sha256File(join(dir, s.file))) !== s.sha256) index.shards[k] = null;
    }
  }
  const flipsPerImage = opts.flips === "both" ? [0, 1] : [0];
  const plane = 3 * dataset.imageSize * dataset.imageSize;
  let imagesDone = index.shards.reduce((a, s) => a + (s ? s.images : 0), 0);
  for (let k = 0; k < numShards; k++) {
    if (index.shards[k]) continue;
    const first = k * opts.shardSize;
    const count = Math.min(opts.shardSize, dataset.length - first);
    const indices = Int32Array.from({ length: count }, (_, i) => first + i);
    const rows: { index: number; label: number; flip: number }[] = [];
    const means: Tensor[] = [];
    const stds: Tensor[] = [];
    const skippedBefore = new Set(dataset.skipped.keys());
    let pending: { index: number; label: number; flip: number; rgb: RgbImage }[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const data = new Float32Array(pending.length * plane);
      pending.forEach((p, b) => {
        rgbToChwInto(p.rgb, data, b * plane, p.flip === 1);
      });
      const images = new Tensor("float32", [pending.length, 3, dataset.imageSize, dataset.imageSize], data);
      const { mean, std } = await encode(images);
      if (mean.shape[0] !== pending.length || std.shape.join() !== mean.shape.join())
        throw new LatentCacheError(
          `encoder returned mean [${mean.shape}] / std [${std.shape}] for ${pending.length} images`,
        );
      means.push(toDtype(mean, opts.dtype));
      stds.push(toDtype(std, opts.dtype));
      for (const p of pending) rows.push({ index: p.index, label: p.label, flip: p.flip });
      pending = [];
    };
    let inShard = 0;
    for await (const img of dataset.loadInOrder(indices)) {
      for (const flip of flipsPerImage) {
        pending.push({ index: img.index, label: img.label, flip, rgb: img.rgb });
        if (pending.length === batchSize) await flush();
      }
      inShard++;
      options.onProgress?.({ shard: k, numShards, imagesDone: imagesDone + inShard, images: dataset.length });
    }
    await flush();
    const shardPaths = new Set(dataset.items.slice(first, first + count).map((it) => it.path));
    const skipped = [...dataset.skipped.keys()].filter((p) => !skippedBefore.has(p) && shardPaths.has(p));
    const tensors = new Map<string, Tensor>();
    if (rows.length > 0) {
      tensors.set("mean", Tensor.concatRows(means));
      tensors.set("std", Tensor.concatRows(stds));
      const shape = tensors.get("mean")!.shape.slice(1) as number[];
      if (index.latentShape && index.latentShape.join() !== shape.join())
        throw new LatentCacheError(`latent shape [${shape}] differs from the cache's [${index.latentShape}]`);
      index.latentShape = shape;
    }
    tensors.set(
      "label",
      new Tensor(
        "int64",
        [rows.length],
        BigInt64Array.from(rows, (r) => BigInt(r.label)),
      ),
    );
    tensors.set(
      "index",
      new Tensor(
        "int64",
        [rows.length],
        BigInt64Array.from(rows, (r) => BigInt(r.index)),
      ),
    );
    tensors.set(
      "flip",
      new Tensor(
        "uint8",
        [rows.length],
        Uint8Array.from(rows, (r) => r.flip),
      ),
    );
    const file = shardName(k);
    const { sha256, bytes } = await writeAtomic(
      join(dir, file),
      safetensorsChunks(tensors, {
        metadata: { format: LATENT_CACHE_FORMAT, shard: String(k), fingerprint },
      }),
    );
    index.shards[k] = { file, sha256, bytes, rows: rows.length, first, images: count, skipped };
    index.complete = index.shards.every((s) => s !== null);
    await writeIndex(dir, index);
    imagesDone += count;
    options.onProgress?.({ shard: k, numShards, imagesDone, images: dataset.length });
  }
  if (!index.complete) {
    index.complete = true;
    await writeIndex(dir, index);
  }
  return index;
}

/** One row of the cache. */
export interface LatentRow {
  /** Position of the row in the whole cache (stable id, e.g. for `sampleLatents`). */
  row: number;
  index: number;
  label: number;
  flip: number;
}

export interface LatentBatch {
  /** [B, C, h, w] float32 (float16 caches are converted). */
  mean: Tensor<"float32">;
  std: Tensor<"float32">;
  /** [B] int64 model class ids. */
  labels: Tensor<"int64">;
  /** Dataset indices, flips and cache row ids. */
  indices: Int32Array;
  flips: Uint8Array;
  rows: Int32Array;
}

export interface LatentBatchOptions {
  batchSize: number;
  seed?: Seed;
  epoch?: number;
  shuffle?: boolean;
  shard?: ShardSpec;
  dropLast?: boolean;
  /**
   * Which stored flip each image uses: "random" (default when the cache has both: `flipFor(seed, epoch,
   * index)`, the same flips as `ImageDataset.batches`), or "none" (unflipped rows only).
   */
  flip?: "random" | "none";
}

/** A finished latent cache opened for reading. Close it when done. */
export class LatentCache {
  /** Rows sorted by (dataset index, flip). */
  private readonly rowIndex: LatentRow[];
  private readonly rowShard: Int32Array;
  private readonly rowInShard: Int32Array;
  private readonly byImage = new Map<number, number[]>();
  private readonly open = new Map<number, Promise<{ src: FileSource; st: SafetensorsFile }>>();

  private constructor(
    readonly dir: string,
    readonly index: LatentCacheIndex,
    rows: { row: LatentRow; shard: number; pos: number }[],
    private readonly maxOpen: number,
  ) {
    this.rowIndex = rows.map((r) => r.row);
    this.rowShard = Int32Array.from(rows, (r) => r.shard);
    this.rowInShard = Int32Array.from(rows, (r) => r.pos);
    for (const r of this.rowIndex) {
      const list = this.byImage.get(r.index) ?? [];
      list[r.flip] = r.row;
      this.byImage.set(r.index, list);
    }
  }

  /**
   * Opens the cache in `dir`: reads index.json, checks that every shard exists with its recorded size and
   * (verify "full", the default) sha256, and reads the small per-row tensors. `verify: "size"` skips
   * hashing (faster on huge caches). Incomplete caches are refused unless `allowIncomplete`.
   */
  static async open(
    dir: string,
    options: { verify?: "full" | "size"; allowIncomplete?: boolean; maxOpenFiles?: number } = {},
  ): Promise<LatentCache> {
    const index = await readIndex(dir);
    if (!index) throw new LatentCacheError(`${join(dir, LATENT_CACHE_INDEX)}: no latent cache here`);
    if (!index.complete && !options.allowIncomplete) {
      const missing = index.shards.filter((s) => !s).length;
      throw new LatentCacheError(
        `${join(dir, LATENT_CACHE_INDEX)}: incomplete cache (${missing} of ${index.numShards} shards missing); re-run buildLatentCache to finish it`,
      );
    }
    const rows: { row: LatentRow; shard: number; pos: number }[] = [];
    for (let k = 0; k < index.shards.length; k++) {
      const s = index.shards[k];
      if (!s) continue;
      const path = join(dir, s.file);
      const st = await stat(path).catch(() => undefined);
      if (!st) throw new LatentCacheError(`${path}: shard file missing`);
      if (st.size !== s.bytes)
        throw new LatentCacheError(`${path}: size ${st.size}, index says ${s.bytes} (corrupt or truncated)`);
      if ((options.verify ?? "full") === "full") {
        const got = await sha256File(path);
        if (got !== s.sha256)
          throw new LatentCacheError(
            `${path}: sha256 mismatch: file ${got}, index ${s.sha256} (corrupt shard)`,
          );
      }
      const src = await fileSource(path);
      try {
        const f = await openSafetensors(src);
        const [label, idx, flip] = [await f.tensor("label"), await f.tensor("index"), await f.tensor("flip")];
        if (label.shape[0] !== s.rows)
          throw new LatentCacheError(`${path}: ${label.shape[0]} rows, index says ${s.rows}`);
        for (let i = 0; i < s.rows; i++) {
          rows.push({
            row: {
              row: 0,
              index: Number((idx.data as BigInt64Array)[i]),
              label: Number((label.data as BigInt64Array)[i]),
              flip: (flip.data as Uint8Array)[i],
            },
            shard: k,
            pos: i,
          });
        }
      } finally {
        await src.close();
      }
    }
    rows.sort((a, b) => a.row.index - b.row.index || a.row.flip - b.row.flip);
    rows.forEach((r, i) => {
      r.row.row = i;
    });
    return new LatentCache(dir, index, rows, options.maxOpenFiles ?? 64);
  }

  /** Number of stored rows (images x flips). */
  get numRows(): number {
    return this.rowIndex.length;
  }

  /** Dataset images present (skipped images excluded), ascending. */
  get images(): number[] {
    return [...this.byImage.keys()];
  }

  get latentShape(): number[] {
    return this.index.latentShape ?? [];
  }

  row(r: number): LatentRow {
    return this.rowIndex[r];
  }

  /** The row of dataset image `index` with `flip`, or undefined. */
  rowOf(index: number, flip = 0): number | undefined {
    return this.byImage.get(index)?.[flip];
  }

  private shardFile(k: number): Promise<{ src: FileSource; st: SafetensorsFile }> {
    let p = this.open.get(k);
    if (p) {
      this.open.delete(k);
      this.open.set(k, p);
      return p;
    }
    if (this.open.size >= this.maxOpen) {
      const [oldK, old] = this.open.entries().next().value!;
      this.open.delete(oldK);
      void old.then((o) => o.src.close()).catch(() => undefined);
    }
    p = (async () => {
      const src = await fileSource(join(this.dir, this.index.shards[k]!.file));
      return { src, st: await openSafetensors(src) };
    })();
    this.open.set(k, p);
    return p;
  }

  /** Reads rows (cache row ids) into float32 mean/std tensors [B, C, h, w]. */
  async readRows(rows: ArrayLike<number>): Promise<LatentBatch> {
    const shape = this.latentShape;
    const per = shape.reduce((a, b) => a * b, 1);
    const n = rows.length;
    const mean = new Float32Array(n * per);
    const std = new Float32Array(n * per);
    const f16 = this.index.options.dtype === "float16";
    const bytesPer = per * (f16 ? 2 : 4);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      const { st } = await this.shardFile(this.rowShard[r]);
      for (const [name, out] of [
        ["mean", mean],
        ["std", std],
      ] as const) {
        const e = st.info(name);
        const bytes = await readAt(
          st.source,
          st.dataStart + e.begin + this.rowInShard[r] * bytesPer,
          bytesPer,
          `${name} row`,
        );
        const copy = bytes.slice();
        const vals = f16
          ? new Tensor("float16", [per], new Uint16Array(copy.buffer, 0, per)).toFloat32()
          : new Float32Array(copy.buffer, 0, per);
        out.set(vals, i * per);
      }
    }
    const sel = Array.from(rows, (r) => this.rowIndex[r]);
    return {
      mean: new Tensor("float32", [n, ...shape], mean),
      std: new Tensor("float32", [n, ...shape], std),
      labels: new Tensor(
        "int64",
        [n],
        BigInt64Array.from(sel, (s) => BigInt(s.label)),
      ),
      indices: Int32Array.from(sel, (s) => s.index),
      flips: Uint8Array.from(sel, (s) => s.flip),
      rows: Int32Array.from(rows),
    };
  }

  /**
   * Mini-batches of posteriors over the cached images in the (seed, epoch, shard) order of `sampleOrder`
   * (over the cached images), each image once per epoch with the flip `flipFor(seed, epoch, index)`.
   * Draw latents with `sampleLatents(batch.mean, batch.std, batch.rows, { seed, epoch })`.
   */
  async *batches(options: LatentBatchOptions): AsyncGenerator<LatentBatch> {
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    const images = this.images;
    const order = sampleOrder(images.length, {
      seed,
      epoch,
      shuffle: options.shuffle ?? true,
      shard: options.shard,
    });
    const both = this.index.options.flips === "both";
    const random = both && (options.flip ?? "random") === "random";
    for (let s = 0; s < order.length; s += options.batchSize) {
      const end = Math.min(order.length, s + options.batchSize);
      if (end - s < options.batchSize && options.dropLast) break;
      const rows: number[] = [];
      for (let p = s; p < end; p++) {
        const img = images[order[p]];
        const flip = random && flipFor(seed, epoch, img) ? 1 : 0;
        rows.push(this.rowOf(img, flip)!);
      }
      yield this.readRows(rows);
    }
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const p of all) await (await p).src.close();
  }
}

/** Opens a latent cache (see `LatentCache.open`). */
export function openLatentCache(
  dir: string,
  options: { verify?: "full" | "size"; allowIncomplete?: boolean; maxOpenFiles?: number } = {},
): Promise<LatentCache> {
  return LatentCache.open(dir, options);
}
