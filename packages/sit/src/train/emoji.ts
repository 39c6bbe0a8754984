/// <reference types="node" />
// The bundled emoji dataset as a training set with either labelling (the 9 Unicode categories or the 24
// groups of @flowturbo/data's EMOJI_GROUPS), named `emoji:categories` / `emoji:groups` as a data source,
// and a deterministic held-out split by emoji identity (for the emoji classifier).
import { EMOJI_CATEGORIES, EMOJI_GROUP_NAMES, type EmojiDataset, emojiBaseName } from "@flowturbo/data";
import { loadEmojiDataset, loadEmojiGroupLabels } from "@flowturbo/data/node";
import { type TrainingSet, uint8ImageSet } from "./data";

export type EmojiLabelling = "categories" | "groups";

/** Data-source names of the bundled emoji dataset with a labelling (`--data emoji:groups`). */
export const EMOJI_DATA_SOURCES: Readonly<Record<string, EmojiLabelling>> = {
  "emoji:categories": "categories",
  "emoji:groups": "groups",
};

/** The labelling a data-source name asks for, or undefined if it is not an emoji data-source name. */
export function emojiDataSource(name: string | undefined): EmojiLabelling | undefined {
  return name === undefined ? undefined : EMOJI_DATA_SOURCES[name];
}

export interface EmojiTrainingData {
  dataset: EmojiDataset;
  labelling: EmojiLabelling;
  labels: Uint8Array;
  classNames: readonly string[];
  /** All images, [-1, 1], with the chosen labels. */
  set: TrainingSet;
}

/** The bundled emoji dataset with category or group labels. */
export async function loadEmojiTrainingData(labelling: EmojiLabelling): Promise<EmojiTrainingData> {
  const dataset = await loadEmojiDataset();
  const labels = labelling === "groups" ? await loadEmojiGroupLabels(dataset) : dataset.labels;
  const classNames = labelling === "groups" ? EMOJI_GROUP_NAMES : EMOJI_CATEGORIES;
  return {
    dataset,
    labelling,
    labels,
    classNames,
    set: uint8ImageSet(dataset.images, labels, classNames.length),
  };
}

/** FNV-1a (32 bit) of a string's UTF-16 code units. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Whether image i is held out: by a hash of its emoji's short name (skin-tone variants share their
 * base's), so both fonts and every skin tone of one emoji fall on the same side.
 * `fraction` of the emoji (not images) are held out, in steps of 1/1000.
 */
export function emojiHeldOut(ds: EmojiDataset, i: number, fraction: number): boolean {
  return fnv1a32(emojiBaseName(ds, i)) % 1000 < Math.round(fraction * 1000);
}

/** Image indices of the training and held-out sides of the split. */
export function emojiSplit(ds: EmojiDataset, fraction: number): { train: Int32Array; heldOut: Int32Array } {
  const train: number[] = [];
  const heldOut: number[] = [];
  for (let i = 0; i < ds.length; i++) (emojiHeldOut(ds, i, fraction) ? heldOut : train).push(i);
  return { train: Int32Array.from(train), heldOut: Int32Array.from(heldOut) };
}

/** The examples `indices` of a set, renumbered 0..n-1. */
export function subsetSet(set: TrainingSet, indices: ArrayLike<number>): TrainingSet {
  return {
    length: indices.length,
    shape: set.shape,
    numClasses: set.numClasses,
    label: (i) => set.label(indices[i]),
    write: (i, flip, out, offset, epoch) => set.write(indices[i], flip, out, offset, epoch),
  };
}
