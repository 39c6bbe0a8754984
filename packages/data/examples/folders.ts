import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassMapError } from "@flowturbo/data";
import { imageFolder, loadEmojiDataset, writePngFolder, writeSampleNpz } from "@flowturbo/data/node";

// Make a small ImageFolder on disk: cat/ and dog/ (emoji PNGs stand in for photos).
const root = mkdtempSync(join(tmpdir(), "pets-"));
const emoji = await loadEmojiDataset();
await writePngFolder(emoji.images.sliceRows(0, 6), join(root, "cat"));
await writePngFolder(emoji.images.sliceRows(6, 10), join(root, "dog"));

// A 1000-class ImageNet model: cat/dog must not silently become classes 0 and 1.
try {
  await imageFolder(root, { numClasses: 1000, imageSize: 32 });
} catch (err) {
  if (!(err instanceof ClassMapError)) throw err;
  console.log("refused:", err.message.slice(0, 88));
}

// Either map the folders to the model's classes (a JSON or "folder id" text file) ...
writeFileSync(join(root, "classes.txt"), "cat 281\ndog 207\n");
const pets = await imageFolder(root, {
  numClasses: 1000,
  imageSize: 32,
  classMap: join(root, "classes.txt"),
});
// ... or acknowledge folder order for a model trained on these folders: { classMap: "folder-order" }.

for await (const b of pets.batches({ batchSize: 4, seed: 1, epoch: 0, randomFlip: true })) {
  console.log(b.images.shape.join("x"), [...b.labels.data].join(","), [...b.flipped].join(""));
}

// ADM-evaluator sample file: arr_0 uint8 NHWC + arr_1 labels (ZIP64 when over 4 GiB).
const bytes = await writeSampleNpz(
  join(root, "samples.npz"),
  emoji.images.sliceRows(0, 8),
  [0, 1, 2, 3, 4, 5, 6, 7],
);
console.log("samples.npz", bytes, "bytes");
