/// <reference types="node" />
// Files on disk: Inception weights, stats files, sample npz files.
import { openNpz, readSafetensors, stateDict, type Tensor } from "@flowturbo/tensor";
import { fileSource, loadTorchFile, withFileSource, writeFileStreaming } from "@flowturbo/tensor/node";
import type { ImageBatch } from "../images";
import { sampleNpzBatches } from "../images";
import type { MomentsFile } from "../moments";
import {
  inspectNpz,
  momentsNpzChunks,
  type NpzKind,
  readMomentsNpz,
  readStatsNpz,
  type StatsFile,
  statsNpzChunks,
} from "../statsFile";

/**
 * Reads the FID Inception state dict: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (torch zip,
 * restricted unpickler; nothing in it is executed) or a .safetensors copy with the same keys.
 * Pass the result to `new InceptionExtractor(backend, stateDict)`, which checks every key.
 */
export async function loadInceptionStateDict(path: string): Promise<Map<string, Tensor>> {
  if (path.endsWith(".safetensors")) {
    return withFileSource(path, async (src) => (await readSafetensors(src)).tensors);
  }
  return stateDict(await loadTorchFile(path));
}

/** Reads FID statistics (mu/sigma, mu_s/sigma_s) from an ADM reference batch or our stats file; arr_0 is not read. */
export function readStatsFile(path: string): Promise<StatsFile> {
  return withFileSource(path, (src) => readStatsNpz(src));
}

/** Writes a stats file (streamed; the file appears atomically). Returns its size in bytes. */
export function writeStatsFile(path: string, stats: StatsFile): Promise<number> {
  return writeFileStreaming(path, statsNpzChunks(stats));
}

/** Writes a feature moments file (streamed; the file appears atomically). Returns its size in bytes. */
export function writeMomentsFile(path: string, moments: MomentsFile): Promise<number> {
  return writeFileStreaming(path, momentsNpzChunks(moments));
}

/** Reads a feature moments file (one shard's n, sum and sum of outer products, float64). */
export function readMomentsFile(path: string): Promise<MomentsFile> {
  return withFileSource(path, (src) => readMomentsNpz(src, { name: path }));
}

/** What an npz on disk holds (stats, ADM reference batch, or sample batch). */
export function inspectNpzFile(path: string): Promise<NpzKind> {
  return withFileSource(path, (src) => inspectNpz(src));
}

/**
 * The images of a sample npz on disk (arr_0 uint8 NHWC), batch by batch; the file is closed when the
 * iteration ends (also on break or error).
 */
export async function* sampleNpzFileBatches(
  path: string,
  options: { batchSize?: number; arrayName?: string } = {},
): AsyncGenerator<ImageBatch> {
  const src = await fileSource(path);
  try {
    yield* sampleNpzBatches(await openNpz(src), options);
  } finally {
    await src.close();
  }
}
