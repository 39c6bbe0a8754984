import { TensorFileError } from "./errors";

/**
 * Random-access, read-only bytes: an in-memory buffer, a browser Blob/File, or a file on disk
 * (`fileSource` in "@flowturbo/tensor/node"). Readers only ask for the ranges they need.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Name used in error messages (a file name or path). */
  readonly name?: string;
  /**
   * Returns exactly `length` bytes starting at `offset` (callers keep `offset + length <= size`).
   * The result may share memory with the source (in-memory sources return a view); do not mutate it.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Anything the readers accept: a ByteSource or the whole file in memory. */
export type SourceLike = ByteSource | Uint8Array;

/** A ByteSource over bytes in memory; reads return views (no copy). */
export function bytesSource(bytes: Uint8Array, name = "<bytes>"): ByteSource {
  return {
    size: bytes.byteLength,
    name,
    read: async (offset, length) => {
      checkRange(offset, length, bytes.byteLength, name);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/**
 * What `blobSource` uses of a Blob or File (declared here so that the types need no DOM typings;
 * a DOM Blob or File is one).
 */
export interface BlobLike {
  readonly size: number;
  readonly name?: string;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/** A ByteSource over a browser Blob or File (reads use `blob.slice().arrayBuffer()`). */
export function blobSource(blob: BlobLike, name?: string): ByteSource {
  const label = name ?? blob.name ?? "<blob>";
  return {
    size: blob.size,
    name: label,
    read: async (offset, length) => {
      checkRange(offset, length, blob.size, label);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

/** The bytes [offset, offset + length) of `source` as a ByteSource of its own. */
export function sliceSource(source: ByteSource, offset: number, length: number, name?: string): ByteSource {
  const label = name ?? source.name ?? "<slice>";
  checkRange(offset, length, source.size, label);
  return {
    size: length,
    name: label,
    read: async (o, n) => {
      checkRange(o, n, length, label);
      return source.read(offset + o, n);
    },
  };
}

/** Normalizes a SourceLike to a ByteSource; `name` (or the source's own name) labels error messages. */
export function toSource(input: SourceLike, name?: string): ByteSource {
  if (input instanceof Uint8Array) return bytesSource(input, name ?? "<bytes>");
  if (name === undefined || name === input.name) return input;
  return { size: input.size, name, read: (o, n) => input.read(o, n) };
}

/** The name used in messages about `source`. */
export function sourceName(source: ByteSource): string {
  return source.name ?? "<source>";
}

/**
 * Reads [offset, offset + length) and checks it lies inside the source and that the source returned
 * exactly that many bytes; errors name the file and `what` was being read.
 */
export async function readAt(
  source: ByteSource,
  offset: number,
  length: number,
  what: string,
): Promise<Uint8Array> {
  const file = sourceName(source);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new TensorFileError(file, `invalid byte range for ${what}: offset ${offset}, length ${length}`);
  }
  if (offset + length > source.size) {
    throw new TensorFileError(
      file,
      `${what} at bytes [${offset}, ${offset + length}) lies beyond the end of the file (${source.size} bytes): truncated or corrupt`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await source.read(offset, length);
  } catch (err) {
    if (err instanceof TensorFileError) throw err;
    throw new TensorFileError(file, `reading ${what} failed: ${(err as Error).message}`, { cause: err });
  }
  if (bytes.byteLength !== length) {
    throw new TensorFileError(
      file,
      `reading ${what}: expected ${length} bytes, got ${bytes.byteLength} (truncated?)`,
    );
  }
  return bytes;
}

function checkRange(offset: number, length: number, size: number, name: string): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new TensorFileError(
      name,
      `read of [${offset}, ${offset + length}) is outside the ${size}-byte source`,
    );
  }
}
