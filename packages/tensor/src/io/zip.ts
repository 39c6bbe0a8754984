// Zip archives (as written by numpy's np.savez / np.savez_compressed and torch.save): random-access reader
// that touches only the end-of-central-directory records, the central directory and the entries asked
// for; writer of stored (uncompressed) entries with ZIP64 support.

import { type ByteSource, readAt, type SourceLike, sliceSource, sourceName, toSource } from "./byteSource";
import { crc32 } from "./crc32";
import { TensorFileError } from "./errors";
import { type ByteSink, concatBytes, writeChunks } from "./sink";

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
/** Compressed bytes read per step while inflating. */
const INFLATE_CHUNK = 4 << 20;
/**
 * The most bytes deflate can produce from `compressed` bytes: a block codes at most 258 bytes per
 * length/distance pair of at least 2 bits, about 1032:1 (plus a little for tiny streams). A member that
 * declares more is corrupt, or a decompression bomb; refused before anything is inflated.
 */
export function maxInflatedSize(compressed: number): number {
  return compressed * 1032 + 1024;
}

/** One member of a zip archive, as described by the central directory. */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

/** Options of `ZipArchive.read`. */
export interface ZipReadOptions {
  /** Verify the CRC-32 of the extracted bytes (default true). */
  checkCrc?: boolean;
  /**
   * The most bytes the member may hold, for members whose format bounds them (e.g. a checkpoint's
   * pickle): a larger declared size is refused before anything is read or inflated.
   */
  maxSize?: number;
}

/** A zip archive opened for random access. */
export class ZipArchive {
  readonly entries: readonly ZipEntry[];
  private readonly byName: Map<string, ZipEntry>;
  private readonly dataOffsets = new Map<ZipEntry, number>();

  constructor(
    readonly source: ByteSource,
    entries: readonly ZipEntry[],
  ) {
    this.entries = entries;
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  get name(): string {
    return sourceName(this.source);
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** The entry called `name`; throws naming the archive if absent. */
  entry(name: string): ZipEntry {
    const e = this.byName.get(name);
    if (!e) throw new TensorFileError(this.name, `zip archive has no member '${name}'`);
    return e;
  }

  /**
   * Absolute offset of an entry's (compressed) data, taken from its LOCAL header (whose name and extra
   * lengths may differ from the central directory's, e.g. numpy's per-entry ZIP64 extra field).
   */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const cached = this.dataOffsets.get(entry);
    if (cached !== undefined) return cached;
    const what = `local header of '${entry.name}'`;
    const h = await readAt(this.source, entry.localHeaderOffset, 30, what);
    const dv = view(h);
    if (dv.getUint32(0, true) !== SIG_LOCAL) {
      throw new TensorFileError(
        this.name,
        `bad zip signature in the ${what} at byte ${entry.localHeaderOffset} (corrupt archive)`,
      );
    }
    const method = dv.getUint16(8, true);
    const nameLen = dv.getUint16(26, true);
    const extraLen = dv.getUint16(28, true);
    if (method !== entry.method) {
      throw new TensorFileError(
        this.name,
        `${what}: compression method ${method} differs from the central directory's ${entry.method}`,
      );
    }
    const nameBytes = await readAt(this.source, entry.localHeaderOffset + 30, nameLen, what);
    if (decodeName(nameBytes, entry.flags) !== entry.name) {
      throw new TensorFileError(
        this.name,
        `${what}: local name '${decodeName(nameBytes, entry.flags)}' differs from the central directory (corrupt archive)`,
      );
    }
    const offset = entry.localHeaderOffset + 30 + nameLen + extraLen;
    if (offset + entry.compressedSize > this.source.size) {
      throw new TensorFileError(
        this.name,
        `data of '${entry.name}' (bytes ${offset}..${offset + entry.compressedSize}) runs past the end of the file (${this.source.size} bytes): truncated`,
      );
    }
    this.dataOffsets.set(entry, offset);
    return offset;
  }

  /** Random access to a STORED entry's bytes (no decompression, no CRC check). */
  async storedSource(entry: ZipEntry | string): Promise<ByteSource> {
    const e = typeof entry === "string" ? this.entry(entry) : entry;
    if (e.method !== 0)
      throw new TensorFileError(
        this.name,
        `member '${e.name}' is compressed (method ${e.method}), not stored`,
      );
    return sliceSource(this.source, await this.dataOffset(e), e.size, this.name);
  }

  /** Extracts one entry (stored or deflate), reading only its local header and data. */
  async read(entry: ZipEntry | string, options: ZipReadOptions = {}): Promise<Uint8Array> {
    const e = typeof entry === "string" ? this.entry(entry) : entry;
    if (e.flags & 1) throw new TensorFileError(this.name, `member '${e.name}' is encrypted`);
    if (e.method === 8 && e.size > maxInflatedSize(e.compressedSize))
      throw new TensorFileError(
        this.name,
        `deflated member '${e.name}' declares ${e.size} bytes, more than deflate can give from ${e.compressedSize} compressed bytes (corrupt)`,
      );
    if (options.maxSize !== undefined && e.size > options.maxSize)
      throw new TensorFileError(
        this.name,
        `member '${e.name}' declares ${e.size} bytes; at most ${options.maxSize} are expected (corrupt, or not this kind of file)`,
      );
    const start = await this.dataOffset(e);
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) {
        throw new TensorFileError(
          this.name,
          `stored member '${e.name}' has compressed size ${e.compressedSize} != size ${e.size}`,
        );
      }
      out = await readAt(this.source, start, e.size, `data of '${e.name}'`);
    } else if (e.method === 8) {
      out = await this.inflate(e, start);
    } else {
      throw new TensorFileError(
        this.name,
        `member '${e.name}' uses unsupported compression method ${e.method} (only stored and deflate)`,
      );
    }
    if (options.checkCrc !== false) {
      const crc = crc32(out);
      if (crc !== e.crc32) {
        throw new TensorFileError(
          this.name,
          `CRC-32 mismatch in member '${e.name}': computed ${hex(crc)}, expected ${hex(e.crc32)} (corrupt data)`,
        );
      }
    }
    return out;
  }

  private async inflate(e: ZipEntry, start: number): Promise<Uint8Array> {
    const what = `deflated member '${e.name}'`;
    const ds = new DecompressionStream("deflate-raw");
    const writer = ds.writable.getWriter();
    const reader = ds.readable.getReader();
    const source = this.source;
    let stop = false;
    const feeding = (async () => {
      try {
        for (let pos = 0; pos < e.compressedSize && !stop; pos += INFLATE_CHUNK) {
          const n = Math.min(INFLATE_CHUNK, e.compressedSize - pos);
          await writer.write(
            (await readAt(source, start + pos, n, `data of '${e.name}'`)) as Uint8Array<ArrayBuffer>,
          );
        }
        await writer.close();
      } catch (err) {
        // Error the readable side too, so the consumer below cannot wait forever.
        await writer.abort(err).catch(() => undefined);
        throw err;
      }
    })();
    feeding.catch(() => undefined);
    const out = new Uint8Array(e.size);
    let length = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (length + value.byteLength > e.size) {
          throw new TensorFileError(
            this.name,
            `${what} inflates to more than its declared ${e.size} bytes (corrupt)`,
          );
        }
        out.set(value, length);
        length += value.byteLength;
      }
      await feeding;
    } catch (err) {
      stop = true;
      reader.cancel().catch(() => undefined);
      writer.abort().catch(() => undefined);
      if (err instanceof TensorFileError) throw err;
      throw new TensorFileError(this.name, `${what} is corrupt or truncated: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (length !== e.size) {
      throw new TensorFileError(
        this.name,
        `${what} inflated to ${length} bytes, expected ${e.size} (corrupt)`,
      );
    }
    return out;
  }
}

/**
 * Opens a zip archive: finds the end-of-central-directory record (and its ZIP64 variant) and parses the
 * central directory. Entry data is not read.
 */
export async function openZip(input: SourceLike, options: { name?: string } = {}): Promise<ZipArchive> {
  const source = toSource(input, options.name);
  const file = sourceName(source);
  const size = source.size;
  if (size < EOCD_SIZE) throw new TensorFileError(file, `not a zip archive: ${size} bytes is too short`);
  // Common case: no archive comment, the EOCD record is the last 22 bytes.
  let eocdOffset = -1;
  let eocd = await readAt(source, size - EOCD_SIZE, EOCD_SIZE, "zip end-of-central-directory record");
  if (view(eocd).getUint32(0, true) === SIG_EOCD && view(eocd).getUint16(20, true) === 0) {
    eocdOffset = size - EOCD_SIZE;
  } else {
    const tailLen = Math.min(size, EOCD_SIZE + MAX_COMMENT);
    const tail = await readAt(source, size - tailLen, tailLen, "zip end-of-central-directory record");
    const dv = view(tail);
    for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
      if (dv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + dv.getUint16(i + 20, true) === tailLen) {
        eocdOffset = size - tailLen + i;
        eocd = tail.subarray(i, i + EOCD_SIZE);
        break;
      }
    }
  }
  if (eocdOffset < 0) {
    throw new TensorFileError(
      file,
      "not a zip archive, or truncated: no end-of-central-directory record found",
    );
  }
  const ev = view(eocd);
  let diskNumber = ev.getUint16(4, true);
  let count = ev.getUint16(10, true);
  let cdSize = ev.getUint32(12, true);
  let cdOffset = ev.getUint32(16, true);
  let cdEnd = eocdOffset;
  // ZIP64: a locator sits right before the EOCD record and points at the ZIP64 EOCD record.
  if (eocdOffset >= 20) {
    const loc = await readAt(source, eocdOffset - 20, 20, "zip64 end-of-central-directory locator");
    const lv = view(loc);
    if (lv.getUint32(0, true) === SIG_EOCD64_LOCATOR) {
      const e64Offset = u64(lv, 8, file, "zip64 end-of-central-directory offset");
      if (e64Offset + 56 > eocdOffset - 20) {
        throw new TensorFileError(
          file,
          `zip64 end-of-central-directory offset ${e64Offset} is out of range (corrupt archive)`,
        );
      }
      const r = await readAt(source, e64Offset, 56, "zip64 end-of-central-directory record");
      const rv = view(r);
      if (rv.getUint32(0, true) !== SIG_EOCD64) {
        throw new TensorFileError(file, "bad zip64 end-of-central-directory signature (corrupt archive)");
      }
      diskNumber = rv.getUint32(16, true);
      count = u64(rv, 32, file, "zip64 entry count");
      cdSize = u64(rv, 40, file, "zip64 central directory size");
      cdOffset = u64(rv, 48, file, "zip64 central directory offset");
      cdEnd = e64Offset;
    }
  }
  if (diskNumber !== 0)
    throw new TensorFileError(file, "multi-disk (spanned) zip archives are not supported");
  if (cdOffset + cdSize > cdEnd) {
    throw new TensorFileError(
      file,
      `zip central directory (bytes ${cdOffset}..${cdOffset + cdSize}) overlaps the end records at ${cdEnd}: truncated or corrupt`,
    );
  }
  if (count * 46 > cdSize) {
    throw new TensorFileError(
      file,
      `zip central directory of ${cdSize} bytes cannot hold ${count} entries (corrupt)`,
    );
  }
  const cd = await readAt(source, cdOffset, cdSize, "zip central directory");
  const dv = view(cd);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || dv.getUint32(p, true) !== SIG_CENTRAL) {
      throw new TensorFileError(
        file,
        `bad zip central directory entry #${i} at byte ${cdOffset + p} (corrupt archive)`,
      );
    }
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdSize)
      throw new TensorFileError(file, `zip central directory entry #${i} runs past the directory (corrupt)`);
    const name = decodeName(cd.subarray(p + 46, p + 46 + nameLen), flags);
    // ZIP64 extended information: present for each field that holds 0xFFFFFFFF, in this order.
    const extra = findExtra(cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), 0x0001);
    if (extra) {
      const xv = view(extra);
      let q = 0;
      const take = (field: string): number => {
        if (q + 8 > extra.length)
          throw new TensorFileError(file, `zip64 extra field of '${name}' lacks the ${field}`);
        const v = u64(xv, q, file, `${field} of '${name}'`);
        q += 8;
        return v;
      };
      if (size === U32_MAX) size = take("size");
      if (compressedSize === U32_MAX) compressedSize = take("compressed size");
      if (localHeaderOffset === U32_MAX) localHeaderOffset = take("local header offset");
    }
    if (size === U32_MAX || compressedSize === U32_MAX || localHeaderOffset === U32_MAX) {
      // Sizes only in the local header's ZIP64 field (not written by numpy or torch, but legal).
      const local = await localZip64(source, localHeaderOffset, name);
      if (size === U32_MAX) size = local.size;
      if (compressedSize === U32_MAX) compressedSize = local.compressedSize;
    }
    if (localHeaderOffset + 30 > cdOffset || localHeaderOffset + 30 + compressedSize > cdOffset) {
      throw new TensorFileError(
        file,
        `member '${name}' (local header at ${localHeaderOffset}, ${compressedSize} bytes) lies outside the archive's data area (corrupt)`,
      );
    }
    entries.push({ name, method, flags, crc32: crc, compressedSize, size, localHeaderOffset });
    p = next;
  }
  return new ZipArchive(source, entries);
}

async function localZip64(
  source: ByteSource,
  offset: number,
  name: string,
): Promise<{ size: number; compressedSize: number }> {
  const file = sourceName(source);
  if (offset === U32_MAX)
    throw new TensorFileError(
      file,
      `member '${name}': local header offset needs a zip64 field the central directory lacks`,
    );
  const h = await readAt(source, offset, 30, `local header of '${name}'`);
  const hv = view(h);
  if (hv.getUint32(0, true) !== SIG_LOCAL)
    throw new TensorFileError(file, `bad zip signature in the local header of '${name}'`);
  const nameLen = hv.getUint16(26, true);
  const extraLen = hv.getUint16(28, true);
  const extra = findExtra(
    await readAt(source, offset + 30 + nameLen, extraLen, `local header of '${name}'`),
    0x0001,
  );
  if (!extra || extra.length < 16)
    throw new TensorFileError(file, `member '${name}': sizes need a zip64 field that is missing`);
  const xv = view(extra);
  return { size: u64(xv, 0, file, "size"), compressedSize: u64(xv, 8, file, "compressed size") };
}

function findExtra(extra: Uint8Array, id: number): Uint8Array | undefined {
  const dv = view(extra);
  let p = 0;
  while (p + 4 <= extra.length) {
    const tag = dv.getUint16(p, true);
    const len = dv.getUint16(p + 2, true);
    if (p + 4 + len > extra.length) return undefined;
    if (tag === id) return extra.subarray(p + 4, p + 4 + len);
    p += 4 + len;
  }
  return undefined;
}

function decodeName(bytes: Uint8Array, _flags: number): string {
  // Names are UTF-8 when flag bit 11 is set; numpy and torch write ASCII. Decode both as UTF-8.
  return new TextDecoder("utf-8").decode(bytes);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(dv: DataView, offset: number, file: string, what: string): number {
  const v = dv.getBigUint64(offset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new TensorFileError(file, `${what} ${v} is out of range (corrupt archive)`);
  return Number(v);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

// ---------------------------------------------------------------------------------------------- writer

/** A member to write: its name and its bytes (as one buffer or several chunks, concatenated). */
export interface ZipWriteEntry {
  name: string;
  data: Uint8Array | readonly Uint8Array[];
}

/** Options of the zip writers. */
export interface ZipWriteOptions {
  /**
   * ZIP64 records: "auto" (default) only where a size, offset or count needs them; true writes them for
   * every entry and the archive (forces the ZIP64 code paths, e.g. in tests); false throws if needed.
   */
  zip64?: boolean | "auto";
}

/**
 * The bytes of a zip archive of STORED entries, as chunks (headers, then views of the entry data).
 * Timestamps are fixed (1980-01-01) so output is deterministic; CRC-32 is computed over the data.
 */
export function* zipChunks(
  entries: Iterable<ZipWriteEntry>,
  options: ZipWriteOptions = {},
): Generator<Uint8Array> {
  const mode = options.zip64 ?? "auto";
  const enc = new TextEncoder();
  const central: Uint8Array[] = [];
  const names = new Set<string>();
  let offset = 0;
  let count = 0;
  for (const entry of entries) {
    if (names.has(entry.name)) throw new Error(`duplicate zip member name '${entry.name}'`);
    names.add(entry.name);
    const parts = entry.data instanceof Uint8Array ? [entry.data] : entry.data;
    let size = 0;
    let crc = 0;
    for (const part of parts) {
      size += part.byteLength;
      crc = crc32(part, crc);
    }
    const name = enc.encode(entry.name);
    const utf8 = /[^\x20-\x7e]/.test(entry.name) ? 0x0800 : 0;
    const big = size >= U32_MAX;
    const localZip64 = mode === true || big;
    const centralZip64 = mode === true || big || offset >= U32_MAX;
    if (mode === false && (big || offset >= U32_MAX))
      throw new Error(`zip member '${entry.name}' needs ZIP64 (zip64: false)`);
    const version = localZip64 || centralZip64 ? 45 : 20;
    // Local header (+ ZIP64 extra with both sizes when used).
    const local = new Uint8Array(30 + name.length + (localZip64 ? 20 : 0));
    const lv = view(local);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, version, true);
    lv.setUint16(6, utf8, true);
    lv.setUint16(8, 0, true); // stored
    lv.setUint16(10, 0, true); // time 00:00:00
    lv.setUint16(12, 0x21, true); // date 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, localZip64 ? U32_MAX : size, true);
    lv.setUint32(22, localZip64 ? U32_MAX : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, localZip64 ? 20 : 0, true);
    local.set(name, 30);
    if (localZip64) {
      const x = 30 + name.length;
      lv.setUint16(x, 1, true);
      lv.setUint16(x + 2, 16, true);
      lv.setBigUint64(x + 4, BigInt(size), true);
      lv.setBigUint64(x + 12, BigInt(size), true);
    }
    // Central directory entry (+ ZIP64 extra with size, compressed size, offset when used).
    const cent = new Uint8Array(46 + name.length + (centralZip64 ? 28 : 0));
    const cv = view(cent);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, version, true);
    cv.setUint16(6, version, true);
    cv.setUint16(8, utf8, true);
    cv.setUint16(10, 0, true);
    cv.setUint16(12, 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, centralZip64 ? U32_MAX : size, true);
    cv.setUint32(24, centralZip64 ? U32_MAX : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, centralZip64 ? 28 : 0, true);
    cv.setUint32(42, centralZip64 ? U32_MAX : offset, true);
    cent.set(name, 46);
    if (centralZip64) {
      const x = 46 + name.length;
      cv.setUint16(x, 1, true);
      cv.setUint16(x + 2, 24, true);
      cv.setBigUint64(x + 4, BigInt(size), true);
      cv.setBigUint64(x + 12, BigInt(size), true);
      cv.setBigUint64(x + 20, BigInt(offset), true);
    }
    central.push(cent);
    yield local;
    for (const part of parts) if (part.byteLength > 0) yield part;
    offset += local.length + size;
    count++;
  }
  const cdOffset = offset;
  let cdSize = 0;
  for (const c of central) {
    yield c;
    cdSize += c.length;
  }
  const needZip64 = mode === true || count >= U16_MAX || cdSize >= U32_MAX || cdOffset >= U32_MAX;
  if (needZip64 && mode === false) throw new Error("zip archive needs ZIP64 records (zip64: false)");
  if (needZip64) {
    const rec = new Uint8Array(56 + 20);
    const rv = view(rec);
    rv.setUint32(0, SIG_EOCD64, true);
    rv.setBigUint64(4, 44n, true); // size of the rest of the record
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(count), true);
    rv.setBigUint64(32, BigInt(count), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    rv.setUint32(56, SIG_EOCD64_LOCATOR, true);
    rv.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    rv.setUint32(72, 1, true); // total number of disks
    yield rec;
  }
  const end = new Uint8Array(EOCD_SIZE);
  const ev = view(end);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, needZip64 ? U16_MAX : count, true);
  ev.setUint16(10, needZip64 ? U16_MAX : count, true);
  ev.setUint32(12, needZip64 ? U32_MAX : cdSize, true);
  ev.setUint32(16, needZip64 ? U32_MAX : cdOffset, true);
  yield end;
}

/** A whole zip archive in memory (see `zipChunks`). */
export function encodeZip(
  entries: Iterable<ZipWriteEntry>,
  options: ZipWriteOptions = {},
): Uint8Array<ArrayBuffer> {
  return concatBytes(zipChunks(entries, options));
}

/** Streams a zip archive to `sink`; returns the number of bytes written. */
export function writeZip(
  sink: ByteSink,
  entries: Iterable<ZipWriteEntry>,
  options: ZipWriteOptions = {},
): Promise<number> {
  return writeChunks(sink, zipChunks(entries, options));
}
