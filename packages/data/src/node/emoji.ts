/// <reference types="node" />
// The bundled emoji dataset from disk.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { decodeEmojiDataset, EMOJI_DATASET_FILE, type EmojiDataset } from "../emoji";

/** Path of the bundled emoji32.npz (assets/ of this package; the same from src/node and dist/node). */
export function emojiDatasetPath(): string {
  return fileURLToPath(new URL(`../../assets/${EMOJI_DATASET_FILE}`, import.meta.url));
}

/** Loads the emoji dataset (the bundled file, or `path`). */
export async function loadEmojiDataset(path: string = emojiDatasetPath()): Promise<EmojiDataset> {
  return decodeEmojiDataset(new Uint8Array(await readFile(path)));
}
