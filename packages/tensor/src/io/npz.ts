// NumPy .npz archives: a zip of "<name>.npy" members (np.savez: stored; np.savez_compressed: deflate).
// Reading one array touches only the zip directory and that member's bytes.

import { readAt, type SourceLike } from "./byteSource";
import { decodeNpy, type NpyHeader, npyHeaderBytes, npyHeaderLength, parseNpyHeader } from "./npy";
import { TensorFileError } from "./errors";
import {
  type ByteSink,
  concatBytes,
  type NamedTensors,
  namedTensorEntries,
  tensorBytes,
  writeChunks,
} from "./sink";
import type { Tensor } from "../tensor";
import {
  openZip,
  type ZipArchive,
  type ZipEntry,
  type ZipReadOptions,
  type ZipWriteOptions,
  zipChunks,
} from "./zip";

/** An opened .npz archive; arrays are read on demand. */
export class NpzFile {
  private readonly members = new Map<string, ZipEntry>();

  constructor(readonly zip: ZipArchive) {
    for (const e of zip.entries) {
      if (e.name.endsWith("/")) continue;
      this.members.set(e.name.endsWith(".npy") ? e.name.slice(0, -4) : e.name, e);
    }
  }

  get name(): string {
    return this.zip.name;
  }

  /** Array names (member names without ".npy"), in archive order. */
  get names(): string[] {
    return [...this.members.keys()];
  }

  has(name: string): boolean {
    return this.members.has(name);
  }

  private member(name: string): ZipEntry {
    const e = this.members.get(name);
    if (!e)
      throw new TensorFileError(
        this.name,
        `no array named '${name}' (arrays: ${this.names.join(", ") || "none"})`,
      );
    return e;
  }

  /**
   * The .npy header of one array. For stored members only the header bytes are read; deflated members
   * are inflated whole.
   */
  async header(name: string): Promise<NpyHeader> {
    const e = this.member(name);
    const ctx = { file: this.name, array: name };
    if (e.method !== 0) return parseNpyHeader(await this.zip.read(e), ctx);
    const src = await this.zip.storedSource(e);
    const prefix = await readAt(src, 0, Math.min(12, e.size), `.npy header of '${name}'`);
    const n = npyHeaderLength(prefix, ctx);
    return parseNpyHeader(await readAt(src, 0, Math.min(n, e.size), `.npy header of '${name}'`), ctx);
  }

  /** Reads one array (CRC-checked unless `checkCrc: false`). */
  async read(name: string, options: ZipReadOptions = {}): Promise<Tensor> {
    const e = this.member(name);
    return decodeNpy(await this.zip.read(e, options), { file: this.name, array: name });
  }

  /** Reads the named arrays (default: all). */
  async readAll(
    names: Iterable<string> = this.members.keys(),
    options: ZipReadOptions = {},
  ): Promise<Map<string, Tensor>> {
    const out = new Map<string, Tensor>();
    for (const n of names) out.set(n, await this.read(n, options));
    return out;
  }
}

/** Opens a .npz archive (reads only the zip directory). */
export async function openNpz(input: SourceLike, options: { name?: string } = {}): Promise<NpzFile> {
  return new NpzFile(await openZip(input, options));
}

/**
 * The bytes of an .npz archive (like np.savez: stored "<name>.npy" members) as chunks; tensor data is
 * not copied. `zip64: true` forces ZIP64 records (see `ZipWriteOptions`).
 */
export function* npzChunks(arrays: NamedTensors, options: ZipWriteOptions = {}): Generator<Uint8Array> {
  const entries = namedTensorEntries(arrays).map(([name, t]) => ({
    name: `${name}.npy`,
    data: [npyHeaderBytes(t.dtype, t.shape), tensorBytes(t)],
  }));
  yield* zipChunks(entries, options);
}

/** A whole .npz archive in memory. */
export function encodeNpz(arrays: NamedTensors, options: ZipWriteOptions = {}): Uint8Array<ArrayBuffer> {
  return concatBytes(npzChunks(arrays, options));
}

/** Streams an .npz archive to `sink`; returns the number of bytes written. */
export function writeNpz(
  sink: ByteSink,
  arrays: NamedTensors,
  options: ZipWriteOptions = {},
): Promise<number> {
  return writeChunks(sink, npzChunks(arrays, options));
}
