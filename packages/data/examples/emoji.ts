import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMOJI_CATEGORIES } from "@flowturbo/data";
import { loadEmojiDataset, writePngGrid } from "@flowturbo/data/node";

// The bundled demo dataset: 7,562 emoji, 32x32, labelled with 9 categories.
const emoji = await loadEmojiDataset();
console.log(`${emoji.length} images, ${emoji.numClasses} classes:`, emoji.classCounts().join(" "));

// Deterministic batches: order and flips depend only on (seed, epoch).
const batch = emoji.batches({ batchSize: 16, seed: 0, epoch: 0, randomFlip: true }).next().value!;
console.log(batch.images.shape, [...batch.labels.data].map((l) => EMOJI_CATEGORIES[Number(l)]).slice(0, 3));

const out = join(mkdtempSync(join(tmpdir(), "emoji-")), "grid.png");
await writePngGrid(batch.images, 8, out); // float [-1, 1] NCHW or uint8 NHWC
console.log("wrote", out);
