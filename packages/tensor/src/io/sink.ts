import type { Tensor } from "../tensor";

/**
 * Destination of a writer: receives the file's bytes in order. Chunks may be views of tensor storage:
 * consume (or copy) them before the returned promise resolves. `fileSink` in "@flowturbo/tensor/node"
 * streams to disk; `BytesSink` collects in memory.
 */
export interface ByteSink {
  write(chunk: Uint8Array): void | Promise<void>;
}

/** A sink that keeps copies of the chunks and concatenates them on `bytes()`. */
export class BytesSink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  write(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice());
    this.length += chunk.byteLength;
  }

  get byteLength(): number {
    return this.length;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    return concatBytes(this.chunks);
  }
}

/** Writes all chunks to `sink` in order, awaiting each; returns the number of bytes written. */
export async function writeChunks(sink: ByteSink, chunks: Iterable<Uint8Array>): Promise<number> {
  let n = 0;
  for (const chunk of chunks) {
    if (chunk.byteLength === 0) continue;
    await sink.write(chunk);
    n += chunk.byteLength;
  }
  return n;
}

/** Concatenates byte chunks into one new buffer. */
export function concatBytes(chunks: Iterable<Uint8Array>): Uint8Array<ArrayBuffer> {
  const list = [...chunks];
  let total = 0;
  for (const c of list) total += c.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of list) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** The storage of a tensor as bytes (a view, little-endian, row-major). */
export function tensorBytes(tensor: Tensor): Uint8Array {
  const d = tensor.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Accepted collections of named tensors (iteration order is kept where the format keeps order). */
export type NamedTensors =
  | ReadonlyMap<string, Tensor>
  | Readonly<Record<string, Tensor>>
  | Iterable<[string, Tensor]>;

/** Normalizes NamedTensors to entries; throws on duplicate names. */
export function namedTensorEntries(tensors: NamedTensors): [string, Tensor][] {
  let entries: [string, Tensor][];
  if (tensors instanceof Map) entries = [...tensors.entries()];
  else if (Symbol.iterator in (tensors as object)) entries = [...(tensors as Iterable<[string, Tensor]>)];
  else entries = Object.entries(tensors as Record<string, Tensor>);
  const seen = new Set<string>();
  for (const [name] of entries) {
    if (seen.has(name)) throw new Error(`duplicate tensor name '${name}'`);
    seen.add(name);
  }
  return entries;
}
