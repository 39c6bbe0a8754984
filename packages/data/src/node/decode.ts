/// <reference types="node" />
// Image decoding in Node with sharp (libvips): JPEG, PNG, WebP (and whatever else libvips reads).

import { readFile } from "node:fs/promises";
import sharp from "sharp";
import type { ImageIO } from "../dataset";
import { type RgbImage, toRgb } from "../image";

export interface DecodeOptions {
  /**
   * When invalid pixel data aborts decoding (sharp's failOn): "error" (default: truncated or corrupt data
   * fails, decoder warnings such as extraneous JPEG bytes do not, close to PIL), "truncated", "warning"
   * (strictest) or "none".
   */
  failOn?: "none" | "truncated" | "error" | "warning";
  /** Largest width*height accepted (default 268402689, sharp's). */
  limitInputPixels?: number;
}

/**
 * Decodes an encoded image to 8-bit RGB as PIL's `Image.open(f).convert("RGB")` would: no EXIF rotation,
 * no ICC color conversion (ignoreIcc), alpha dropped without compositing, gray replicated.
 * JPEGs are decoded by libjpeg-turbo in both; see the README for the differences measured against Pillow.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, {
    ignoreIcc: true,
    failOn: options.failOn ?? "error",
    limitInputPixels: options.limitInputPixels ?? 268402689,
  })
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const px = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return toRgb(info.width, info.height, info.channels, px);
}

/**
 * decodeImage with the fault said in words (libvips' own message, e.g. "Input buffer has corrupt
 * header:", in parentheses).
 */
async function decodeOrSay(bytes: Uint8Array, options: DecodeOptions): Promise<RgbImage> {
  try {
    return await decodeImage(bytes, options);
  } catch (err) {
    const detail = (err as Error).message.trim().replace(/:$/, "");
    throw new Error(`not a readable image: corrupt, truncated or of another format (${detail})`, {
      cause: err,
    });
  }
}

/** Reads and decodes an image file; errors name the path and say what is wrong in words. */
export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  const bytes = await readFile(path);
  try {
    return await decodeOrSay(bytes, options);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: (err as Error).cause });
  }
}

/** ImageIO over the file system (fs.readFile + sharp); decoding errors say what is wrong in words. */
export function nodeImageIO(options: DecodeOptions = {}): ImageIO {
  return {
    read: async (path) => new Uint8Array(await readFile(path)),
    decode: (bytes) => decodeOrSay(bytes, options),
  };
}
