// Samples -> pixels: SiT's quantization (clamp(127.5 x + 128, 0, 255), truncated, as the CLI writes PNGs)
// into RGBA, and a grid layout for the page.
import { quantizeImages, Tensor } from "@flowturbo/tensor";

/** float32 [n, 3, H, W] in [-1, 1] -> one RGBA buffer per image (SiT's uint8 quantization). */
export function toRgba(data: Float32Array, shape: readonly number[]): Uint8ClampedArray<ArrayBuffer>[] {
  const [n, c, h, w] = shape;
  if (shape.length !== 4 || c !== 3)
    throw new Error(`expected images [n, 3, H, W], got [${shape.join(", ")}]`);
  const nhwc = quantizeImages(new Tensor("float32", [...shape], data)).data as Uint8Array;
  const out: Uint8ClampedArray<ArrayBuffer>[] = [];
  for (let i = 0; i < n; i++) {
    const rgba = new Uint8ClampedArray(h * w * 4);
    for (let p = 0; p < h * w; p++) {
      const s = (i * h * w + p) * 3;
      rgba[4 * p] = nhwc[s];
      rgba[4 * p + 1] = nhwc[s + 1];
      rgba[4 * p + 2] = nhwc[s + 2];
      rgba[4 * p + 3] = 255;
    }
    out.push(rgba);
  }
  return out;
}

/**
 * A state that is not an image yet (a preview of latents, or pixels mid-trajectory): the first three
 * channels min-max scaled per sample to [-1, 1], so a preview is always visible.
 */
export function previewImages(data: Float32Array, shape: readonly number[]): Float32Array {
  const [n, c, h, w] = shape;
  const per = h * w;
  const out = new Float32Array(n * 3 * per);
  for (let i = 0; i < n; i++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < Math.min(3, c) * per; k++) {
      const v = data[i * c * per + k];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const scale = hi > lo ? 2 / (hi - lo) : 0;
    for (let ch = 0; ch < 3; ch++) {
      const src = Math.min(ch, c - 1);
      for (let p = 0; p < per; p++)
        out[(i * 3 + ch) * per + p] = (data[(i * c + src) * per + p] - lo) * scale - 1;
    }
  }
  return out;
}

/** Columns and rows of a near-square grid of n images. */
export function gridSize(n: number): { cols: number; rows: number } {
  const cols = Math.ceil(Math.sqrt(n));
  return { cols, rows: Math.ceil(n / cols) };
}

/** n RGBA images of h x w -> one RGBA grid (cols x rows, 2 px gaps, white background). */
export function gridRgba(
  images: readonly Uint8ClampedArray[],
  h: number,
  w: number,
  gap = 2,
): { data: Uint8ClampedArray<ArrayBuffer>; width: number; height: number } {
  const { cols, rows } = gridSize(images.length);
  const width = cols * w + (cols - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  const data = new Uint8ClampedArray(width * height * 4).fill(255);
  images.forEach((img, i) => {
    const x0 = (i % cols) * (w + gap);
    const y0 = Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < h; y++)
      data.set(img.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * width + x0) * 4);
  });
  return { data, width, height };
}
