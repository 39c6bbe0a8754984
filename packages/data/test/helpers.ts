import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import sharp from "sharp";
import type { RgbImage } from "../src/index";
import { pattern } from "./pattern";

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = "ft-data-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Encodes an RGB image with sharp. */
export function encode(img: RgbImage, format: "png" | "jpeg" | "webp"): Promise<Buffer> {
  const s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  if (format === "png") return s.png().toBuffer();
  if (format === "webp") return s.webp({ lossless: true }).toBuffer();
  return s.jpeg({ quality: 92 }).toBuffer();
}

/** Writes a pattern image of the given size (varied by `seed`) in `format` to `path`. */
export async function writeImage(
  path: string,
  w: number,
  h: number,
  format: "png" | "jpeg" | "webp" = "png",
  seed = 0,
): Promise<RgbImage> {
  const p = pattern(w + seed, h);
  const img = { width: w, height: h, data: new Uint8Array(w * h * 3) };
  for (let y = 0; y < h; y++)
    img.data.set(p.data.subarray(y * (w + seed) * 3, (y * (w + seed) + w) * 3), y * w * 3);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await encode(img, format));
  return img;
}

/** A solid-color RGB image. */
export function solid(w: number, h: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, 3 * i);
  return { width: w, height: h, data };
}
