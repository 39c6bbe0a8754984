/// <reference types="node" />
// The bundled emoji dataset from disk.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { decodeEmojiDataset, EMOJI_DATASET_FILE, type EmojiDataset } from "../emoji";
import { EMOJI_SUBCATEGORIES_FILE, type EmojiSubcategoryTable, emojiGroupLabels } from "../emojiGroups";

/** Path of the bundled emoji32.npz (assets/ of this package; the same from src/node and dist/node). */
export function emojiDatasetPath(): string {
  return fileURLToPath(new URL(`../../assets/${EMOJI_DATASET_FILE}`, import.meta.url));
}

/** Loads the emoji dataset (the bundled file, or `path`). */
export async function loadEmojiDataset(path: string = emojiDatasetPath()): Promise<EmojiDataset> {
  return decodeEmojiDataset(new Uint8Array(await readFile(path)));
}

/** Path of the bundled subcategory table (assets/emoji32-subcategories.json). */
export function emojiSubcategoriesPath(): string {
  return fileURLToPath(new URL(`../../assets/${EMOJI_SUBCATEGORIES_FILE}`, import.meta.url));
}

/** Reads the subcategory table of the emoji dataset (the bundled file, or `path`). */
export async function loadEmojiSubcategories(
  path: string = emojiSubcategoriesPath(),
): Promise<EmojiSubcategoryTable> {
  const json = JSON.parse(await readFile(path, "utf8")) as Partial<EmojiSubcategoryTable>;
  if (!Array.isArray(json.subcategories) || typeof json.names !== "object" || json.names === null)
    throw new Error(`${path}: not an emoji subcategory table (subcategories, names)`);
  return json as EmojiSubcategoryTable;
}

/** Group ids (EMOJI_GROUPS) of the bundled emoji dataset's images, checked against its categories. */
export async function loadEmojiGroupLabels(ds?: EmojiDataset): Promise<Uint8Array> {
  return emojiGroupLabels(ds ?? (await loadEmojiDataset()), await loadEmojiSubcategories());
}
