/// <reference types="node" />
// Node-only file access for the tensor file formats: random-access file sources and streaming sinks.

import { open, rename, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename } from "node:path";
import type { ByteSink, ByteSource } from "../io/index";

/** Largest single read/write call (fs calls are limited to 2 GiB). */
const MAX_IO = 1 << 30;

/** A ByteSource over an open file; `close()` it when done (or use `withFileSource`). */
export interface FileSource extends ByteSource {
  readonly path: string;
  close(): Promise<void>;
}

/** Opens `path` for random-access reads (fs.promises FileHandle, positional reads, no full load). */
export async function fileSource(path: string, options: { name?: string } = {}): Promise<FileSource> {
  const handle = await open(path, "r");
  let size: number;
  try {
    size = (await handle.stat()).size;
  } catch (err) {
    await handle.close();
    throw err;
  }
  return {
    path,
    size,
    name: options.name ?? basename(path),
    read: (offset, length) => readFully(handle, offset, length, path),
    close: () => handle.close(),
  };
}

async function readFully(
  handle: FileHandle,
  offset: number,
  length: number,
  path: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = Math.min(MAX_IO, length - done);
    const { bytesRead } = await handle.read(out, done, n, offset + done);
    if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at byte ${offset + done}`);
    done += bytesRead;
  }
  return out;
}

/** Opens `path`, runs `fn` with a FileSource, and closes the file afterwards. */
export async function withFileSource<T>(path: string, fn: (source: FileSource) => Promise<T>): Promise<T> {
  const source = await fileSource(path);
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

/** A ByteSink writing to a file. `close()` commits it; `abort()` discards it. */
export interface FileSink extends ByteSink {
  readonly path: string;
  readonly bytesWritten: number;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Creates a sink that writes sequentially to a temporary file next to `path` and renames it onto `path`
 * on `close()`, so readers never see a half-written file.
 */
export async function fileSink(path: string): Promise<FileSink> {
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  const handle = await open(tmp, "w");
  let written = 0;
  let finished = false;
  return {
    path,
    get bytesWritten() {
      return written;
    },
    async write(chunk: Uint8Array) {
      if (finished) throw new Error(`${path}: write after close`);
      let done = 0;
      while (done < chunk.byteLength) {
        const n = Math.min(MAX_IO, chunk.byteLength - done);
        const { bytesWritten } = await handle.write(chunk, done, n, written);
        done += bytesWritten;
        written += bytesWritten;
      }
    },
    async close() {
      if (finished) return;
      finished = true;
      await handle.close();
      await rename(tmp, path);
    },
    async abort() {
      if (finished) return;
      finished = true;
      await handle.close().catch(() => undefined);
      await rm(tmp, { force: true });
    },
  };
}

/**
 * Writes chunks (e.g. from `safetensorsChunks`, `npzChunks`, `zipChunks`) to `path` without holding the
 * whole file in memory; the file appears atomically. Returns the number of bytes written.
 */
export async function writeFileStreaming(
  path: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<number> {
  const sink = await fileSink(path);
  try {
    for await (const chunk of chunks) await sink.write(chunk);
    await sink.close();
    return sink.bytesWritten;
  } catch (err) {
    await sink.abort();
    throw err;
  }
}
