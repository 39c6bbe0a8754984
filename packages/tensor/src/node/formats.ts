// Convenience wrappers of the tensor file formats for paths on disk.

import {
  loadTorchCheckpoint,
  type NamedTensors,
  npzChunks,
  type NpzFile,
  openNpz,
  openSafetensors,
  type SafetensorsWriteOptions,
  safetensorsChunks,
  type TorchLoadOptions,
  type ZipWriteOptions,
} from "../io/index";
import type { Tensor } from "../tensor";
import { fileSource, withFileSource, writeFileStreaming } from "./files";

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
