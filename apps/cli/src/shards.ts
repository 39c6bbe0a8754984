// Shard folders of a sharded sampling run (`flowturbo sample --shard k/K`): each shard writes its images
// (PNGs or one npz part), the Inception feature moments of those images and a manifest into a private
// temporary folder, then renames the folder into place. A shard folder is complete exactly when it exists
// under its final name (it always holds manifest.json): a worker killed mid-shard leaves only a
// `.tmp-*` folder, which readers ignore, and a shard computed twice is kept once.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { asUint8Nhwc, encodePng, nhwcImage } from "@flowturbo/data";
import { openSampleNpzWriter, type SampleNpzWriter } from "@flowturbo/data/node";
import {
  type FeatureConvention,
  FeatureMomentsAccumulator,
  type ImageBatch,
  type InceptionExtractor,
} from "@flowturbo/metrics";
import { writeMomentsFile } from "@flowturbo/metrics/node";
import type { SampleRange } from "@flowturbo/queue";
import type { Tensor } from "@flowturbo/tensor";
import { UsageError } from "./cli";

export const SHARD_FORMAT = "flowturbo-shard";
export const MANIFEST = "manifest.json";
export const MOMENTS_FILE = "moments.npz";
export const SHARD_NPZ = "samples.npz";

/** Which pixels the Inception features are computed from: the 8-bit images written, or the float output. */
export type FidInput = "uint8" | "float";

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  version: 1;
  /** Everything that defines the samples; the same for every shard of one run. */
  run: Record<string, unknown>;
  /** Samples in the whole run. */
  total: number;
  range: SampleRange;
  /** Class label of each sample of the shard (global index range.start + i). */
  labels: number[];
  images:
    | { kind: "png"; files: string[]; sha256: string[] }
    | { kind: "npz"; file: string; sha256: string; height: number; width: number };
  /** The moments file (feature sums for FID/sFID), when features were computed. */
  moments: string | null;
  convention: FeatureConvention | null;
  seconds: { sampling: number; features: number; writing: number };
}

/** shard-<start>-<end>, zero-padded so that names sort like ranges. */
export function shardDirName(r: SampleRange): string {
  const pad = (v: number) => String(v).padStart(8, "0");
  return `shard-${pad(r.start)}-${pad(r.end)}`;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The shard's folder when it is complete already (a retry after the shard was committed), else undefined. */
export async function completeShardDir(root: string, range: SampleRange): Promise<string | undefined> {
  const dir = join(root, shardDirName(range));
  if (await exists(join(dir, MANIFEST))) return dir;
  if (await exists(dir))
    throw new UsageError(
      `${dir} exists but has no ${MANIFEST}: not a shard folder written by flowturbo; remove it`,
    );
  return undefined;
}

/** Float NCHW [-1, 1] images as an Inception batch: quantized uint8 (what is written) or [0, 1] floats. */
function featureBatch(images: Tensor, input: FidInput): ImageBatch {
  const [count, , height, width] = images.shape;
  if (input === "uint8") return { kind: "uint8", data: asUint8Nhwc(images).data, count, height, width };
  const x = images.toFloat32();
  const data = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) data[i] = Math.min(1, Math.max(0, (x[i] + 1) / 2));
  return { kind: "float", data, count, height, width };
}

export interface ShardWriterOptions {
  /** The run's output root (shared by all shards). */
  root: string;
  range: SampleRange;
  total: number;
  run: Record<string, unknown>;
  format: "png" | "npz";
  extractor?: InceptionExtractor;
  fidInput?: FidInput;
}

/** Writes one shard: `add` the images in global order, then `commit` (or `abort`). */
export class ShardWriter {
  private done = 0;
  private readonly labels: number[] = [];
  private readonly files: string[] = [];
  private readonly hashes: string[] = [];
  private npz: SampleNpzWriter | undefined;
  private npzSize: [number, number] = [0, 0];
  private readonly features = new FeatureMomentsAccumulator();
  readonly seconds = { sampling: 0, features: 0, writing: 0 };

  private constructor(
    private readonly o: ShardWriterOptions,
    /** The private temporary folder. */
    readonly tmp: string,
    /** The final folder. */
    readonly dir: string,
  ) {}

  /** A writer on a fresh temporary folder (check `completeShardDir` first). */
  static async open(o: ShardWriterOptions): Promise<ShardWriter> {
    const dir = join(o.root, shardDirName(o.range));
    if ((await completeShardDir(o.root, o.range)) || (await exists(dir)))
      throw new Error(`${dir} exists already`);
    const tmp = join(
      o.root,
      `.tmp-${shardDirName(o.range)}-${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`,
    );
    await mkdir(tmp, { recursive: true });
    return new ShardWriter(o, tmp, dir);
  }

  get count(): number {
    return this.done;
  }

  /** Adds the next images (float NCHW in [-1, 1]) and their labels. */
  async add(images: Tensor, labels: readonly number[]): Promise<void> {
    const n = images.shape[0];
    const first = this.o.range.start + this.done;
    if (first + n > this.o.range.end)
      throw new Error(
        `shard ${shardDirName(this.o.range)}: ${first + n - this.o.range.start} images exceed its size`,
      );
    let t = performance.now();
    const u8 = asUint8Nhwc(images);
    if (this.o.format === "png") {
      for (let i = 0; i < n; i++) {
        const png = await encodePng(nhwcImage(u8, i));
        const name = `${String(first + i).padStart(6, "0")}_${labels[i]}.png`;
        await writeFile(join(this.tmp, name), png);
        this.files.push(name);
        this.hashes.push(sha256(png));
      }
    } else {
      const [, h, w] = u8.shape;
      this.npzSize = [h, w];
      this.npz ??= await openSampleNpzWriter(join(this.tmp, SHARD_NPZ), {
        count: this.o.range.end - this.o.range.start,
        height: h,
        width: w,
      });
      await this.npz.append(u8, labels);
    }
    this.seconds.writing += (performance.now() - t) / 1000;
    if (this.o.extractor) {
      t = performance.now();
      const batch = featureBatch(images, this.o.fidInput ?? "uint8");
      const f = await this.o.extractor.extract(batch);
      this.features.add(f, this.o.extractor.convention(batch.kind));
      this.seconds.features += (performance.now() - t) / 1000;
    }
    this.labels.push(...labels);
    this.done += n;
  }

  /**
   * Writes the moments and the manifest, then renames the temporary folder into place. When another run
   * of the same shard got there first, this copy is dropped (`duplicate`: the samples are the same).
   */
  async commit(): Promise<{ dir: string; manifest: ShardManifest; duplicate: boolean }> {
    const size = this.o.range.end - this.o.range.start;
    if (this.done !== size)
      throw new Error(`shard ${shardDirName(this.o.range)}: ${this.done} of ${size} images`);
    const t = performance.now();
    let images: ShardManifest["images"];
    if (this.o.format === "npz") {
      await this.npz!.close();
      images = {
        kind: "npz",
        file: SHARD_NPZ,
        sha256: sha256(await readFile(join(this.tmp, SHARD_NPZ))),
        height: this.npzSize[0],
        width: this.npzSize[1],
      };
    } else images = { kind: "png", files: this.files, sha256: this.hashes };
    let moments: string | null = null;
    let convention: FeatureConvention | null = null;
    if (this.o.extractor) {
      const m = this.features.moments({ range: this.o.range, source: shardDirName(this.o.range) });
      await writeMomentsFile(join(this.tmp, MOMENTS_FILE), m);
      moments = MOMENTS_FILE;
      convention = m.meta.convention;
    }
    this.seconds.writing += (performance.now() - t) / 1000;
    const manifest: ShardManifest = {
      format: SHARD_FORMAT,
      version: 1,
      run: this.o.run,
      total: this.o.total,
      range: this.o.range,
      labels: this.labels,
      images,
      moments,
      convention,
      seconds: this.seconds,
    };
    await writeFile(join(this.tmp, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    try {
      await rename(this.tmp, this.dir);
      return { dir: this.dir, manifest, duplicate: false };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === "ENOTEMPTY" || code === "EEXIST") && (await exists(join(this.dir, MANIFEST)))) {
        await rm(this.tmp, { recursive: true, force: true });
        return { dir: this.dir, manifest, duplicate: true };
      }
      throw e;
    }
  }

  /** Removes the temporary folder. */
  async abort(): Promise<void> {
    await this.npz?.abort();
    await rm(this.tmp, { recursive: true, force: true });
  }
}

export async function readShardManifest(dir: string): Promise<ShardManifest> {
  const path = join(dir, MANIFEST);
  let m: ShardManifest;
  try {
    m = JSON.parse(await readFile(path, "utf8")) as ShardManifest;
  } catch (e) {
    throw new UsageError(`${path}: not a readable shard manifest (${(e as Error).message})`);
  }
  if (m.format !== SHARD_FORMAT)
    throw new UsageError(`${path}: format '${m.format}', expected ${SHARD_FORMAT}`);
  return m;
}

export interface RunShards {
  root: string;
  total: number;
  /** Complete shards, sorted by range. */
  shards: { dir: string; manifest: ShardManifest }[];
  /** Leftovers of interrupted shards (`.tmp-*` folders), ignored. */
  incomplete: string[];
}

/**
 * The complete shards under `root`, checked to be one run that covers [0, total) exactly once: same run
 * description, no gap, no overlap. Errors name the missing or overlapping ranges.
 */
export async function readRunShards(root: string, expectTotal?: number): Promise<RunShards> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    throw new UsageError(`${root}: no such folder (expected the -o folder of a sharded sample run)`);
  }
  const incomplete = names.filter((n) => n.startsWith(".tmp-shard-")).map((n) => join(root, n));
  const shards = [];
  for (const n of names.filter((n) => /^shard-\d+-\d+$/.test(n))) {
    const dir = join(root, n);
    shards.push({ dir, manifest: await readShardManifest(dir) });
  }
  if (shards.length === 0)
    throw new UsageError(`${root}: no complete shard folders (shard-<start>-<end>/${MANIFEST})`);
  shards.sort((a, b) => a.manifest.range.start - b.manifest.range.start);
  const first = shards[0].manifest;
  const total = expectTotal ?? first.total;
  const runKey = JSON.stringify(first.run);
  const problems: string[] = [];
  let next = 0;
  for (const { dir, manifest: m } of shards) {
    if (JSON.stringify(m.run) !== runKey || m.total !== first.total)
      problems.push(`${dir} belongs to another run (${JSON.stringify(m.run)} vs ${runKey})`);
    if (m.range.start > next) problems.push(`samples ${next}:${m.range.start} are missing`);
    if (m.range.start < next) problems.push(`${dir} overlaps samples before ${next}`);
    next = Math.max(next, m.range.end);
  }
  if (first.total !== total)
    problems.push(`the shards belong to a run of ${first.total} samples, not ${total}`);
  if (next < total) problems.push(`samples ${next}:${total} are missing`);
  if (next > total) problems.push(`shards go past the ${total} samples of the run`);
  if (problems.length) throw new UsageError(`${root}: ${problems.join("; ")}`);
  return { root, total, shards, incomplete };
}
