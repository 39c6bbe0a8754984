/// <reference types="node" />
// Node side of @flowturbo/sit ("@flowturbo/sit/node"): the training loop with file checkpoints and logs,
// training sets from npz files and image folders (the emoji dataset by default), and model files with
// their config recorded.
import { createRequire } from "node:module";
import { basename } from "node:path";
import { EMOJI_CATEGORIES } from "@flowturbo/data";
import { openNpz, safetensorsChunks, Tensor } from "@flowturbo/tensor";
import { fileSource, withFileSource, writeFileStreaming } from "@flowturbo/tensor/node";
import { loadCheckpoint, type ModelCheckpoint, ONNX_CONFIG_KEY } from "./checkpoint";
import type { SiTConfig } from "./config";
import type { ModelKind } from "./weights";
import { checkedLabels, type TrainingSet, tensorSet, uint8ImageSet } from "./train/data";

export * from "./train/emoji";
export * from "./train/trainer";

/** Path of @flowturbo/data's bundled emoji32.npz (undefined if the package or file is not installed). */
export function emojiDatasetPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve("@flowturbo/data/emoji32.npz");
  } catch {
    return undefined;
  }
}

export interface ImageTrainingData {
  set: TrainingSet;
  classNames: readonly string[];
  file: string;
}

/**
 * A training set npz: uint8 `images` NHWC [N, H, W, C] (scaled to [-1, 1]) or float `latents`
 * [N, C, H, W] (used as they are), and integer `labels` [N]; or an ADM sample npz (`arr_0` uint8 NHWC,
 * `arr_1` labels, as `flowturbo sample -o samples.npz` writes). Class names from meta.json's "categories"
 * when present; otherwise the labels define the classes (0..max), at most MAX_TRAINING_CLASSES. Every
 * label is checked (an integer class id) before training. Default: the bundled emoji dataset.
 */
export async function loadTrainingNpz(path = emojiDatasetPath()): Promise<ImageTrainingData> {
  if (!path)
    throw new Error(
      "the emoji dataset (@flowturbo/data/emoji32.npz) is not installed; pass a dataset file (--data)",
    );
  const file = basename(path);
  const src = await fileSource(path);
  try {
    const npz = await openNpz(src, { name: file });
    const has = (name: string) => npz.has(name);
    const adm = !has("labels") && has("arr_0") && has("arr_1");
    const labelName = adm ? "arr_1" : "labels";
    if (!has(labelName))
      throw new Error(
        `${file}: no 'labels' array (a training npz holds 'images' uint8 NHWC or 'latents' float NCHW with 'labels'; an ADM sample npz holds 'arr_0' and 'arr_1'); it has ${npz.names.join(", ")}`,
      );
    const labels = await npz.read(labelName);
    const metaEntry = npz.zip.get("meta.json");
    const meta = metaEntry
      ? (JSON.parse(new TextDecoder().decode(await npz.zip.read(metaEntry))) as Record<string, unknown>)
      : {};
    const declared = Array.isArray(meta.categories) ? (meta.categories as string[]) : undefined;
    const lab = checkedLabels(labels.toFloat64(), `${file} '${labelName}'`, declared?.length);
    let numClasses = declared?.length ?? 0;
    if (!declared) for (let i = 0; i < lab.length; i++) numClasses = Math.max(numClasses, lab[i] + 1);
    const classNames =
      declared ??
      (numClasses === EMOJI_CATEGORIES.length
        ? EMOJI_CATEGORIES
        : Array.from({ length: numClasses }, (_, i) => `class ${i}`));
    let set: TrainingSet;
    if (adm) set = uint8ImageSet(await npz.read("arr_0"), lab, numClasses);
    else if (has("images")) set = uint8ImageSet(await npz.read("images"), lab, numClasses);
    else if (has("latents")) set = tensorSet(await npz.read("latents"), lab, numClasses);
    else throw new Error(`${file}: no 'images' (uint8 NHWC) or 'latents' (float NCHW) array`);
    return { set, classNames, file: path };
  } finally {
    await src.close();
  }
}

/**
 * An ImageFolder (one subfolder per class) decoded once into memory: each image ADM-center-cropped to
 * `imageSize` (@flowturbo/data's imageFolder). Without `numClasses` the folders define a new model's
 * classes (sorted names = ids). With it (an existing model, e.g. a refiner's teacher) the folders must map
 * to that model's classes: ImageNet synset folders map automatically for 1000 classes, anything else needs
 * `classMap` (a class-map file, "imagenet", or an explicit "folder-order") or fails naming the folders.
 */
export async function loadImageFolder(
  root: string,
  imageSize: number,
  opts: { numClasses?: number; classMap?: string } = {},
): Promise<ImageTrainingData> {
  const { imageFolder, loadClassMap } = await import("@flowturbo/data/node");
  const { readdir } = await import("node:fs/promises");
  const folders = (await readdir(root, { withFileTypes: true })).filter(
    (e) => e.isDirectory() && !e.name.startsWith("."),
  ).length;
  const ds = await imageFolder(root, {
    imageSize,
    numClasses: opts.numClasses ?? Math.max(folders, 1),
    classMap: opts.numClasses === undefined ? "folder-order" : await loadClassMap(opts.classMap),
  });
  const n = ds.length;
  const plane = imageSize * imageSize * 3;
  const images = new Uint8Array(n * plane);
  const labels = new Array<number>(n);
  let k = 0;
  for await (const img of ds.loadInOrder(Int32Array.from({ length: n }, (_, i) => i))) {
    images.set(img.rgb.data, k * plane);
    labels[k++] = img.label;
  }
  const names = [...(ds.classes?.ids ?? new Map<string, number>())]
    .sort((a, b) => a[1] - b[1])
    .map(([nm]) => nm);
  const tensor = new Tensor("uint8", [k, imageSize, imageSize, 3], images.subarray(0, k * plane));
  const numClasses = opts.numClasses ?? names.length;
  return { set: uint8ImageSet(tensor, labels.slice(0, k), numClasses), classNames: names, file: root };
}

/** safetensors metadata key of the model config (the same key `flowturbo convert` uses in ONNX). */
export const MODEL_CONFIG_KEY = ONNX_CONFIG_KEY;

/** Writes a model state dict as safetensors (atomically) with {kind, config} and `extra` in the metadata. */
export async function writeModelFile(
  path: string,
  weights: ReadonlyMap<string, Tensor>,
  /** A SiT or refiner ({kind, config} as loadCheckpoint reads it), or another network's own kind/config. */
  model: { kind: ModelKind; config: SiTConfig } | { kind: string; config: object },
  extra: Record<string, string> = {},
): Promise<void> {
  await writeFileStreaming(
    path,
    safetensorsChunks(weights, {
      metadata: { ...extra, [MODEL_CONFIG_KEY]: JSON.stringify({ kind: model.kind, config: model.config }) },
    }),
  );
}

/**
 * Loads a SiT or refiner checkpoint file; for safetensors written by `writeModelFile` the recorded
 * architecture (heads included) is used.
 */
export async function loadModelFile(
  path: string,
  opts: { heads?: number; kind?: ModelKind } = {},
): Promise<ModelCheckpoint> {
  // loadCheckpoint uses the architecture recorded in our safetensors metadata when present
  return withFileSource(path, (src) =>
    loadCheckpoint(src, { file: basename(path), heads: opts.heads, kind: opts.kind }),
  );
}
