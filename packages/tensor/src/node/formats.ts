// Convenience wrappers of the tensor file formats for paths on disk.

import { open, rename, rm } from "node:fs/promises";
import {
  loadTorchCheckpoint,
  type NamedTensors,
  npzChunks,
  type NpzFile,
  openNpz,
  openSafetensors,
  type SafetensorsSpec,
  type SafetensorsWriteOptions,
  safetensorsChunks,
  safetensorsLayout,
  type TorchLoadOptions,
  type ZipWriteOptions,
} from "../io/index";
import type { Tensor } from "../tensor";
import { fileSource, tempPathFor, withFileSource, writeFileStreaming } from "./files";

/** Reads all (or the named) tensors of a .safetensors file, plus its `__metadata__`. */
export async function readSafetensorsFile(
  path: string,
  names?: Iterable<string>,
): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> | undefined }> {
  return withFileSource(path, async (src) => {
    const f = await openSafetensors(src);
    return { tensors: await f.tensors(names), metadata: f.metadata ? { ...f.metadata } : undefined };
  });
}

/** Streams tensors to a .safetensors file (reference layout). Returns the file size. */
export function saveSafetensorsFile(
  path: string,
  tensors: NamedTensors,
  options: SafetensorsWriteOptions = {},
): Promise<number> {
  return writeFileStreaming(path, safetensorsChunks(tensors, options));
}

/** A safetensors file being written piece by piece (openSafetensorsWriter). */
export interface SafetensorsWriter {
  readonly path: string;
  /** Appends the next bytes of tensor `name` (each tensor is filled in order; tensors in any order). */
  append(name: string, data: ArrayBufferView): Promise<void>;
  /** Checks that every tensor is complete, then renames the file into place; returns its size. */
  close(): Promise<number>;
  /** Discards the partial file. */
  abort(): Promise<void>;
}

/**
 * Writes a safetensors file whose tensors arrive in pieces (e.g. samples, batch by batch) without
 * holding them: the header comes from the declared shapes (the reference layout, the same bytes as
 * saveSafetensorsFile of the whole tensors), each piece goes straight to its place, and the file appears
 * atomically on `close()`, which refuses an incomplete file.
 */
export async function openSafetensorsWriter(
  path: string,
  specs: readonly SafetensorsSpec[],
  options: SafetensorsWriteOptions = {},
): Promise<SafetensorsWriter> {
  const { header, slots } = safetensorsLayout(specs, options);
  const filled = new Map(slots.map((s) => [s.name, 0]));
  const tmp = tempPathFor(path);
  const handle = await open(tmp, "w");
  let done = false;
  const write = async (bytes: Uint8Array, at: number) => {
    for (let n = 0; n < bytes.byteLength; )
      n += (await handle.write(bytes, n, bytes.byteLength - n, at + n)).bytesWritten;
  };
  const discard = async () => {
    done = true;
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
  };
  try {
    await write(header, 0);
  } catch (err) {
    await discard();
    throw err;
  }
  return {
    path,
    async append(name, data) {
      if (done) throw new Error(`${path}: append after close`);
      const slot = slots.find((s) => s.name === name);
      if (!slot) throw new Error(`${path}: no tensor '${name}' was declared`);
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const at = filled.get(name)!;
      if (slot.begin + at + bytes.byteLength > slot.end)
        throw new Error(`${path}: more data for '${name}' than its shape [${slot.shape.join(", ")}] holds`);
      await write(bytes, header.byteLength + slot.begin + at);
      filled.set(name, at + bytes.byteLength);
    },
    async close() {
      if (done) throw new Error(`${path}: already closed`);
      const missing = slots.filter((s) => filled.get(s.name) !== s.end - s.begin);
      if (missing.length) {
        await discard();
        throw new Error(
          `${path}: incomplete (${missing.map((s) => `'${s.name}'`).join(", ")}); file discarded`,
        );
      }
      done = true;
      try {
        await handle.close();
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      return header.byteLength + (slots.at(-1)?.end ?? 0);
    },
    async abort() {
      if (!done) await discard();
    },
  };
}

/** Reads the named arrays (default: all) of an .npz file; other members are not read. */
export async function readNpzFile(path: string, names?: Iterable<string>): Promise<Map<string, Tensor>> {
  return withFileSource(path, async (src) => (await openNpz(src)).readAll(names));
}

/**
 * Opens an .npz file for lazy reads; call `close()` when done.
 */
export async function openNpzFile(path: string): Promise<{ npz: NpzFile; close(): Promise<void> }> {
  const src = await fileSource(path);
  try {
    return { npz: await openNpz(src), close: () => src.close() };
  } catch (err) {
    await src.close();
    throw err;
  }
}

/** Streams arrays to an .npz file (stored members, like np.savez). Returns the file size. */
export function saveNpzFile(
  path: string,
  arrays: NamedTensors,
  options: ZipWriteOptions = {},
): Promise<number> {
  return writeFileStreaming(path, npzChunks(arrays, options));
}

/** Loads a PyTorch zip checkpoint from disk (see `loadTorchCheckpoint`). */
export function loadTorchFile(path: string, options: TorchLoadOptions = {}): Promise<unknown> {
  return withFileSource(path, (src) => loadTorchCheckpoint(src, options));
}
