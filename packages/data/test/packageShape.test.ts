import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as core from "../src/index";
import * as node from "../src/node/index";

const src = new URL("../src/", import.meta.url).pathname;

describe("package shape", () => {
  it("keeps Node APIs and sharp out of the browser-safe core", () => {
    for (const f of readdirSync(src).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(join(src, f), "utf8");
      expect(text, f).not.toMatch(/from "node:|from "sharp"|require\(|reference types="node"/);
    }
  });

  it("exports the documented API", () => {
    for (const name of [
      "centerCropArr",
      "resizeRgb",
      "resolveClassMap",
      "parseClassMap",
      "IMAGENET_SYNSETS",
      "ImageDataset",
      "sampleOrder",
      "flipFor",
      "decodeImageBrowser",
      "browserImageIO",
      "emojiDataset",
      "decodeEmojiDataset",
      "EMOJI_CATEGORIES",
      "encodePng",
      "makeGrid",
      "sampleNpzChunks",
      "sampleLatents",
    ])
      expect(core, name).toHaveProperty(name);
    for (const name of [
      "imageFolder",
      "flatFolder",
      "fileList",
      "decodeImage",
      "loadEmojiDataset",
      "buildLatentCache",
      "openLatentCache",
      "writePngGrid",
      "writePngFolder",
      "PngFolderWriter",
      "sampleFolderFiles",
      "writeSampleNpz",
      "openSampleNpzWriter",
    ])
      expect(node, name).toHaveProperty(name);
  });
});
