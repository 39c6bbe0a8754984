/// <reference types="node" />
// Node-only file access for the tensor file formats: random-access file sources and streaming sinks.

import { open, readdir, rename, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
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
 * The temporary file an atomic write of `path` goes through: `<path>.<pid>.<time>.tmp` next to it (same
 * file system, so the final rename is atomic), named after the writing process so that leftovers of a
 * killed one can be told from writes in progress (removeStaleTemps).
 */
export function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}

/**
 * Removes the temporary files that atomic writes of `path` (tempPathFor) left when their process was
 * killed (SIGKILL, power loss): those whose process is gone. Returns the removed paths.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-z]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    await rm(join(dir, name), { force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

/**
 * Creates a sink that writes sequentially to a temporary file next to `path` and renames it onto `path`
 * on `close()`, so readers never see a half-written file; if the rename fails (e.g. `path` is a folder)
 * the temporary file is removed.
 */
export async function fileSink(path: string): Promise<FileSink> {
  const tmp = tempPathFor(path);
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
      try {
        await handle.close();
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
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
