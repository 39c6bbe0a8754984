// Image decoding in browsers (and workers): createImageBitmap + OffscreenCanvas, no color management.

import type { ImageIO } from "./dataset";
import { type RgbImage, toRgb } from "./image";

/**
 * Decodes JPEG/PNG/WebP bytes (or a Blob/File) to RGB with the browser's decoders: createImageBitmap
 * (colorSpaceConversion "none", premultiplyAlpha "none") drawn on an OffscreenCanvas (a DOM canvas where
 * OffscreenCanvas is missing). Alpha is dropped without compositing, like PIL's convert("RGB").
 *
 * Differences from Node (sharp/libvips): browsers apply EXIF orientation (PIL and our Node decoder do
 * not); JPEG decoders may differ in the last bit (IDCT/upsampling); canvases store premultiplied alpha,
 * so RGB under partially transparent pixels can lose precision.
 */
export async function decodeImageBrowser(input: Uint8Array | Blob, type?: string): Promise<RgbImage> {
  const blob =
    input instanceof Blob ? input : new Blob([input as Uint8Array<ArrayBuffer>], type ? { type } : {});
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  try {
    const { width, height } = bitmap;
    let ctx: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
    if (typeof OffscreenCanvas !== "undefined") {
      ctx = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
    } else {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      ctx = canvas.getContext("2d", { willReadFrequently: true });
    }
    if (!ctx) throw new Error("no 2D canvas context available");
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    return toRgb(width, height, 4, new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength));
  } finally {
    bitmap.close();
  }
}

/**
 * ImageIO for browsers: item paths are URLs fetched with `fetch`, or keys of `files` (e.g. File objects
 * from an <input type="file" webkitdirectory>, keyed by webkitRelativePath).
 */
export function browserImageIO(
  options: { files?: ReadonlyMap<string, Blob>; init?: RequestInit } = {},
): ImageIO {
  return {
    async read(path) {
      const file = options.files?.get(path);
      if (file) return new Uint8Array(await file.arrayBuffer());
      const res = await fetch(path, options.init);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    decode: (bytes) => decodeImageBrowser(bytes),
  };
}
