/// <reference types="node" />
// FD-emoji and class agreement on files: the classifier file, labelled image inputs (a folder of PNGs
// named `<index>_<label>.png` as `flowturbo sample -o DIR` writes them, or a sample npz with arr_1
// labels) and `emojiStatsForInput` (what `flowturbo eval fid --features emoji` computes per side).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { openNpz, openSafetensors, type Tensor } from "@flowturbo/tensor";
import { fileSource } from "@flowturbo/tensor/node";
import { checkClassifierConfig, EMOJI_CLASSIFIER_KIND, type EmojiClassifierConfig } from "../emojiClassifier";
import {
  type EmojiClassifierModel,
  type EmojiEvalResult,
  type EmojiFeatureExtractor,
  emojiEvaluate,
  type LabelledBatch,
} from "../emojiFeatures";
import { batchImages, type ImageSource, sampleNpzBatches } from "../images";
import type { StatsFile } from "../statsFile";
import { inspectEvalInput } from "./eval";
import { readStatsFile } from "./files";

/** The safetensors metadata key holding {kind, config} (as the SiT files written by this repository). */
export const CLASSIFIER_CONFIG_KEY = "flowturbo.config";

/** Reads a classifier written by `flowturbo train-classifier` (safetensors with {kind, config} and classes). */
export async function loadEmojiClassifier(path: string): Promise<EmojiClassifierModel> {
  const bytes = new Uint8Array(await readFile(path));
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const file = await openSafetensors(bytes, { name: basename(path) });
  const metadata = { ...(file.metadata ?? {}) };
  const recorded = metadata[CLASSIFIER_CONFIG_KEY];
  if (!recorded) throw new Error(`${path}: no '${CLASSIFIER_CONFIG_KEY}' metadata (not a classifier file)`);
  const { kind, config } = JSON.parse(recorded) as { kind: string; config: EmojiClassifierConfig };
  if (kind !== EMOJI_CLASSIFIER_KIND)
    throw new Error(`${path}: a ${kind} file, not an ${EMOJI_CLASSIFIER_KIND}`);
  checkClassifierConfig(config);
  const classNames = metadata.classes
    ? (JSON.parse(metadata.classes) as string[])
    : Array.from({ length: config.numClasses }, (_, i) => `class ${i}`);
  const weights = new Map<string, Tensor>();
  for (const name of file.names) weights.set(name, await file.tensor(name));
  return { config, weights, classNames, sha256, metadata };
}

/** The class of a sample file named `<index>_<label>.<ext>` (`flowturbo sample -o DIR`), if any. */
export function labelFromFileName(name: string): number | undefined {
  const m = /_(\d+)\.[A-Za-z0-9]+$/.exec(basename(name));
  return m ? Number(m[1]) : undefined;
}

/** Batches of a folder's images with the labels in their file names (labels dropped if any file has none). */
export async function* labelledFolderBatches(
  images: ImageSource,
  batchSize: number,
): AsyncGenerator<LabelledBatch> {
  const labels: (number | undefined)[] = [];
  async function* named() {
    for await (const img of images) {
      labels.push(labelFromFileName(img.name ?? ""));
      yield img;
    }
  }
  let used = 0;
  let allLabelled = true;
  for await (const batch of batchImages(named(), batchSize)) {
    const lab = labels.slice(used, used + batch.count);
    used += batch.count;
    if (lab.some((l) => l === undefined)) allLabelled = false;
    yield { batch, labels: allLabelled ? (lab as number[]) : undefined };
  }
}

/** Batches of a sample npz (arr_0 uint8 NHWC) with its arr_1 labels when present. */
export async function* labelledNpzBatches(path: string, batchSize: number): AsyncGenerator<LabelledBatch> {
  const src = await fileSource(path);
  try {
    const npz = await openNpz(src, { name: basename(path) });
    const labels = npz.has("arr_1")
      ? Array.from((await npz.read("arr_1")).toFloat64(), Math.round)
      : undefined;
    let i = 0;
    for await (const batch of sampleNpzBatches(npz, { batchSize })) {
      yield { batch, labels: labels?.slice(i, i + batch.count) };
      i += batch.count;
    }
  } finally {
    await src.close();
  }
}

export interface EmojiInputOptions {
  extractor: EmojiFeatureExtractor;
  /** Reads a folder's images (with file names, for the labels); needed for folders. */
  imageFolder?: (folder: string) => ImageSource;
  batchSize?: number;
  limit?: number;
  /** Built-in inputs by name (e.g. "emoji": the dataset), checked before the file system. */
  builtins?: Record<
    string,
    () => Promise<StatsFile | AsyncIterable<LabelledBatch> | Iterable<LabelledBatch>>
  >;
  /** Agreement in another label space (see AgreementAccumulator). */
  numLabels?: number;
  toLabel?: readonly number[];
}

export interface EmojiInput {
  path: string;
  kind: "builtin" | "folder" | "samples" | "stats";
  result: { n: number; stats: StatsFile; agreement?: EmojiEvalResult["agreement"] };
}

/**
 * FD-emoji statistics (and class agreement where the images carry labels) of one argument: a built-in
 * name, a folder, a sample npz, or a statistics npz written with the same classifier.
 */
export async function emojiStatsForInput(path: string, o: EmojiInputOptions): Promise<EmojiInput> {
  const batchSize = o.batchSize ?? o.extractor.batchSize;
  const evaluate = (batches: AsyncIterable<LabelledBatch> | Iterable<LabelledBatch>) =>
    emojiEvaluate(o.extractor, batches, {
      limit: o.limit,
      source: path,
      numLabels: o.numLabels,
      toLabel: o.toLabel,
    });
  const builtin = o.builtins?.[path];
  if (builtin) {
    const got = await builtin();
    if ("pool" in got)
      return { path, kind: "builtin", result: { n: got.meta?.n ?? got.pool.n ?? 0, stats: got } };
    return { path, kind: "builtin", result: await evaluate(got) };
  }
  const input = await inspectEvalInput(path);
  if (input.kind === "stats" || input.kind === "reference") {
    const stats = await readStatsFile(path);
    const c = stats.meta?.convention;
    if (c?.network !== "emoji-classifier")
      throw new Error(`${path}: not FD-emoji statistics (features: ${c?.network ?? "not recorded"})`);
    return { path, kind: "stats", result: { n: stats.meta?.n ?? 0, stats } };
  }
  if (input.kind === "folder") {
    if (!o.imageFolder) throw new Error(`${path}: reading a folder needs an image reader`);
    return {
      path,
      kind: "folder",
      result: await evaluate(labelledFolderBatches(o.imageFolder(path), batchSize)),
    };
  }
  return { path, kind: "samples", result: await evaluate(labelledNpzBatches(path, batchSize)) };
}

/** Reads a classifier's statistics file, checking that it was computed with `model`'s weights. */
export async function readEmojiStats(path: string, model: EmojiClassifierModel): Promise<StatsFile> {
  const stats = await readStatsFile(path);
  const w = stats.meta?.convention.weights;
  if (stats.meta?.convention.network !== "emoji-classifier" || w !== model.sha256)
    throw new Error(
      `${path}: statistics of other classifier weights (${w?.slice(0, 12) ?? "none"}, the classifier is ${model.sha256.slice(0, 12)})`,
    );
  return stats;
}
