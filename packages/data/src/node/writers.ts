/// <reference types="node" />
// Sample writers: PNG grids, folders of PNGs and ADM-evaluator sample .npz files (whole or streamed).

import { mkdir, open, rename, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { crc32, npyHeaderBytes, type Tensor, type ZipWriteOptions } from "@flowturbo/tensor";
import { tempPathFor, writeFileStreaming } from "@flowturbo/tensor/node";
import { asUint8Nhwc, nhwcImage } from "../image";
import { encodePng } from "../png";
import { type GridOptions, makeGrid, sampleLabels, sampleNpzChunks } from "../samples";
import { SAMPLE_FOLDER_MANIFEST, type SampleFolderManifest } from "./sampleFolder";

type Labels = Tensor | ArrayLike<number> | BigInt64Array;

/**
 * Writes `images` (uint8 NHWC or float NCHW in [-1, 1]) as one PNG grid with `cols` columns. The file
 * appears atomically (temporary file, then rename): an interrupted write leaves no PNG under `path`.
 */
export async function writePngGrid(
  images: Tensor,
  cols: number,
  path: string,
  options: GridOptions = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileStreaming(path, [await encodePng(makeGrid(images, cols, options))]);
}

export interface PngFolderOptions {
  /** Number of the first image (default 0): files are `<index>.png`, zero-padded to 6 digits. */
  startIndex?: number;
  /** Appends `_<label>` to each file name (e.g. `000012_207.png`). */
  labels?: Labels;
}

/**
 * Writes a folder of PNGs batch by batch: each PNG appears atomically, and the folder's
 * SAMPLE_FOLDER_MANIFEST says whether the run finished, so an interrupted run never passes for a
 * complete one.
 */
export class PngFolderWriter {
  private readonly files: string[] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly count: number,
    private next: number,
  ) {}

  /** Creates the folder and records a run of `count` images that has not finished. */
  static async open(dir: string, options: { count: number; startIndex?: number }): Promise<PngFolderWriter> {
    if (!Number.isInteger(options.count) || options.count < 0)
      throw new Error(`count must be a non-negative integer, got ${options.count}`);
    await mkdir(dir, { recursive: true });
    const w = new PngFolderWriter(dir, options.count, options.startIndex ?? 0);
    await w.record(false);
    return w;
  }

  /** Images written so far. */
  get written(): number {
    return this.files.length;
  }

  private record(complete: boolean): Promise<number> {
    const manifest: SampleFolderManifest = {
      format: "flowturbo-samples",
      version: 1,
      complete,
      count: this.count,
      files: this.files,
    };
    return writeFileStreaming(join(this.dir, SAMPLE_FOLDER_MANIFEST), [
      new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`),
    ]);
  }

  /** Writes a batch (uint8 NHWC or float NCHW in [-1, 1]), named by index (and label); returns the paths. */
  async append(images: Tensor, labels?: Labels): Promise<string[]> {
    if (this.closed) throw new Error(`${this.dir}: append after close`);
    const u8 = asUint8Nhwc(images);
    const n = u8.shape[0];
    if (this.files.length + n > this.count)
      throw new Error(`${this.dir}: ${this.files.length + n} images exceed the declared count ${this.count}`);
    const lab = labels !== undefined ? sampleLabels(labels, n).data : undefined;
    const paths: string[] = [];
    for (let i = 0; i < n; i++) {
      const stem = String(this.next++).padStart(6, "0");
      const name = lab ? `${stem}_${lab[i]}.png` : `${stem}.png`;
      const path = join(this.dir, name);
      await writeFileStreaming(path, [await encodePng(nhwcImage(u8, i))]);
      this.files.push(name);
      paths.push(path);
    }
    return paths;
  }

  /** Records the run as complete (all `count` images must have been written). */
  async close(): Promise<void> {
    if (this.closed) throw new Error(`${this.dir}: already closed`);
    if (this.files.length !== this.count)
      throw new Error(`${this.dir}: ${this.files.length} of ${this.count} images written`);
    this.closed = true;
    await this.record(true);
  }

  /** Stops: the record keeps saying incomplete (and lists what was written). */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.record(false).catch(() => undefined);
  }
}

/** Writes each image as its own PNG in `dir` (created, with its SAMPLE_FOLDER_MANIFEST); returns the paths. */
export async function writePngFolder(
  images: Tensor,
  dir: string,
  options: PngFolderOptions = {},
): Promise<string[]> {
  const w = await PngFolderWriter.open(dir, { count: images.shape[0], startIndex: options.startIndex });
  const paths = await w.append(images, options.labels);
  await w.close();
  return paths;
}

/**
 * Writes an ADM-evaluator sample file: arr_0 uint8 NHWC (float NCHW in [-1, 1] is quantized as SiT does)
 * and arr_1 int64 labels if given. Streams the tensors to disk (temp file + rename); ZIP64 records are
 * written when the file needs them (> 4 GiB) or with `zip64: true`. Returns the file size.
 */
export function writeSampleNpz(
  path: string,
  images: Tensor,
  labels?: Labels,
  options: ZipWriteOptions = {},
): Promise<number> {
  return writeFileStreaming(path, sampleNpzChunks(images, labels, options));
}

const U32 = 0xffffffff;

export interface SampleNpzWriterOptions {
  /** Total number of images (known up front: the header holds the shape). */
  count: number;
  height: number;
  width: number;
  /** Write arr_1 labels (default true): every `append` must then pass labels. */
  labels?: boolean;
  /** "auto" (default): ZIP64 only when needed; true: always; false: fail if needed. */
  zip64?: boolean | "auto";
}

/**
 * Streams a sample .npz whose images arrive in batches (e.g. 50,000 x 256 x 256 x 3 = 9.8 GB, never held
 * in memory): arr_0 is written as it comes, with a CRC-32 computed on the way and patched into its local
 * header at the end; labels (arr_1) are kept and written on `close()`. The file appears atomically.
 */
export class SampleNpzWriter {
  private written = 0;
  private offset = 0;
  private crc = 0;
  private closed = false;
  private readonly labels: BigInt64Array | undefined;
  private readonly central: Uint8Array[] = [];
  private readonly arr0Zip64: boolean;
  private readonly mode: boolean | "auto";
  private readonly arr0Size: number;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly handle: FileHandle,
    private readonly opts: SampleNpzWriterOptions,
    header: Uint8Array,
  ) {
    const { count, height, width } = opts;
    this.mode = opts.zip64 ?? "auto";
    this.arr0Size = header.length + count * height * width * 3;
    this.arr0Zip64 = this.mode === true || this.arr0Size >= U32;
    if (this.mode === false && this.arr0Size >= U32)
      throw new Error(`${path}: arr_0 needs ZIP64 (zip64: false)`);
    this.labels = opts.labels === false ? undefined : new BigInt64Array(count);
  }

  static async open(path: string, options: SampleNpzWriterOptions): Promise<SampleNpzWriter> {
    for (const k of ["count", "height", "width"] as const) {
      if (!Number.isInteger(options[k]) || options[k] < 1)
        throw new Error(`${k} must be a positive integer, got ${options[k]}`);
    }
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempPathFor(path);
    const handle = await open(tmp, "w");
    const header = npyHeaderBytes("uint8", [options.count, options.height, options.width, 3]);
    const w = new SampleNpzWriter(path, tmp, handle, options, header);
    await w.put(w.localHeader("arr_0.npy", w.arr0Size, 0, w.arr0Zip64));
    w.crc = crc32(header);
    await w.put(header);
    return w;
  }

  /** Images written so far. */
  get count(): number {
    return this.written;
  }

  private async put(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(
        bytes,
        done,
        Math.min(bytes.length - done, 1 << 30),
        this.offset,
      );
      done += bytesWritten;
      this.offset += bytesWritten;
    }
  }

  private localHeader(name: string, size: number, crc: number, zip64: boolean): Uint8Array {
    const nameBytes = new TextEncoder().encode(name);
    const out = new Uint8Array(30 + nameBytes.length + (zip64 ? 20 : 0));
    const v = new DataView(out.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, zip64 ? 45 : 20, true);
    v.setUint16(12, 0x21, true); // 1980-01-01, as @flowturbo/tensor's writer
    v.setUint32(14, crc, true);
    v.setUint32(18, zip64 ? U32 : size, true);
    v.setUint32(22, zip64 ? U32 : size, true);
    v.setUint16(26, nameBytes.length, true);
    v.setUint16(28, zip64 ? 20 : 0, true);
    out.set(nameBytes, 30);
    if (zip64) {
      const x = 30 + nameBytes.length;
      v.setUint16(x, 1, true);
      v.setUint16(x + 2, 16, true);
      v.setBigUint64(x + 4, BigInt(size), true);
      v.setBigUint64(x + 12, BigInt(size), true);
    }
    return out;
  }

  private centralEntry(name: string, size: number, crc: number, offset: number): Uint8Array {
    const nameBytes = new TextEncoder().encode(name);
    const zip64 = this.mode === true || size >= U32 || offset >= U32;
    const out = new Uint8Array(46 + nameBytes.length + (zip64 ? 28 : 0));
    const v = new DataView(out.buffer);
    v.setUint32(0, 0x02014b50, true);
    v.setUint16(4, zip64 ? 45 : 20, true);
    v.setUint16(6, zip64 ? 45 : 20, true);
    v.setUint16(14, 0x21, true);
    v.setUint32(16, crc, true);
    v.setUint32(20, zip64 ? U32 : size, true);
    v.setUint32(24, zip64 ? U32 : size, true);
    v.setUint16(28, nameBytes.length, true);
    v.setUint16(30, zip64 ? 28 : 0, true);
    v.setUint32(42, zip64 ? U32 : offset, true);
    out.set(nameBytes, 46);
    if (zip64) {
      const x = 46 + nameBytes.length;
      v.setUint16(x, 1, true);
      v.setUint16(x + 2, 24, true);
      v.setBigUint64(x + 4, BigInt(size), true);
      v.setBigUint64(x + 12, BigInt(size), true);
      v.setBigUint64(x + 20, BigInt(offset), true);
    }
    return out;
  }

  /** Appends a batch (uint8 NHWC or float NCHW in [-1, 1]) and its labels. */
  async append(images: Tensor, labels?: Labels): Promise<void> {
    if (this.closed) throw new Error(`${this.path}: append after close`);
    const u8 = asUint8Nhwc(images);
    const [n, h, w] = u8.shape;
    if (h !== this.opts.height || w !== this.opts.width)
      throw new Error(
        `${this.path}: images are ${h}x${w}, the file holds ${this.opts.height}x${this.opts.width}`,
      );
    if (this.written + n > this.opts.count)
      throw new Error(
        `${this.path}: ${this.written + n} images exceed the declared count ${this.opts.count}`,
      );
    if (this.labels) {
      if (labels === undefined)
        throw new Error(`${this.path}: labels are required (labels: false to omit arr_1)`);
      this.labels.set(sampleLabels(labels, n).data, this.written);
    }
    const bytes = u8.data;
    this.crc = crc32(bytes, this.crc);
    await this.put(bytes);
    this.written += n;
  }

  /** Finishes the file (all `count` images must have been appended) and renames it into place. */
  async close(): Promise<number> {
    if (this.closed) throw new Error(`${this.path}: already closed`);
    if (this.written !== this.opts.count) {
      await this.abort();
      throw new Error(`${this.path}: ${this.written} of ${this.opts.count} images written; file discarded`);
    }
    this.closed = true;
    try {
      // CRC of arr_0 into its local header (offset 14).
      const crcBytes = new Uint8Array(4);
      new DataView(crcBytes.buffer).setUint32(0, this.crc, true);
      await this.handle.write(crcBytes, 0, 4, 14);
      this.central.push(this.centralEntry("arr_0.npy", this.arr0Size, this.crc, 0));
      if (this.labels) {
        const header = npyHeaderBytes("int64", [this.opts.count]);
        const data = new Uint8Array(this.labels.buffer);
        const size = header.length + data.length;
        const crc = crc32(data, crc32(header));
        const at = this.offset;
        const zip64 = this.mode === true;
        await this.put(this.localHeader("arr_1.npy", size, crc, zip64));
        await this.put(header);
        await this.put(data);
        this.central.push(this.centralEntry("arr_1.npy", size, crc, at));
      }
      const cdOffset = this.offset;
      let cdSize = 0;
      for (const c of this.central) {
        await this.put(c);
        cdSize += c.length;
      }
      const count = this.central.length;
      const needZip64 = this.mode === true || cdOffset >= U32 || cdSize >= U32;
      if (needZip64 && this.mode === false)
        throw new Error(`${this.path}: archive needs ZIP64 (zip64: false)`);
      if (needZip64) {
        const rec = new Uint8Array(76);
        const v = new DataView(rec.buffer);
        v.setUint32(0, 0x06064b50, true);
        v.setBigUint64(4, 44n, true);
        v.setUint16(12, 45, true);
        v.setUint16(14, 45, true);
        v.setBigUint64(24, BigInt(count), true);
        v.setBigUint64(32, BigInt(count), true);
        v.setBigUint64(40, BigInt(cdSize), true);
        v.setBigUint64(48, BigInt(cdOffset), true);
        v.setUint32(56, 0x07064b50, true);
        v.setBigUint64(64, BigInt(cdOffset + cdSize), true);
        v.setUint32(72, 1, true);
        await this.put(rec);
      }
      const end = new Uint8Array(22);
      const ev = new DataView(end.buffer);
      ev.setUint32(0, 0x06054b50, true);
      ev.setUint16(8, needZip64 ? 0xffff : count, true);
      ev.setUint16(10, needZip64 ? 0xffff : count, true);
      ev.setUint32(12, needZip64 ? U32 : cdSize, true);
      ev.setUint32(16, needZip64 ? U32 : cdOffset, true);
      await this.put(end);
      await this.handle.close();
      await rename(this.tmp, this.path);
      return this.offset;
    } catch (err) {
      await this.handle.close().catch(() => undefined);
      await rm(this.tmp, { force: true });
      throw err;
    }
  }

  /** Discards the partial file. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

/** Opens a streaming sample .npz writer (see `SampleNpzWriter`). */
export function openSampleNpzWriter(path: string, options: SampleNpzWriterOptions): Promise<SampleNpzWriter> {
  return SampleNpzWriter.open(path, options);
}
