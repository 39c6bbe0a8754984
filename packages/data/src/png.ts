// A small PNG encoder (8-bit RGB / gray / RGBA, per-row adaptive filters, zlib via the web-standard
// CompressionStream): deterministic bytes in Node and browsers.

import { concatBytes, crc32 } from "@flowturbo/tensor";
import type { RgbImage } from "./image";

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** Pixels to encode: interleaved 8-bit samples with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels. */
export interface PixelBuffer {
  width: number;
  height: number;
  data: Uint8Array;
  channels?: number;
}

async function zlibDeflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Filtered scanlines: each row gets the filter (None, Sub, Up, Average, Paeth) with the least sum of |x|. */
function filterRows(data: Uint8Array, width: number, height: number, bpp: number): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(height * (stride + 1));
  const cand = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const prev = y > 0 ? row - stride : -1;
    let bestSum = Number.POSITIVE_INFINITY;
    for (let f = 0; f < 5; f++) {
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const x = data[row + i];
        const a = i >= bpp ? data[row + i - bpp] : 0;
        const b = prev >= 0 ? data[prev + i] : 0;
        const c = prev >= 0 && i >= bpp ? data[prev + i - bpp] : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (x - pred) & 255;
        cand[i] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < bestSum) {
        bestSum = sum;
        out[y * (stride + 1)] = f;
        out.set(cand, y * (stride + 1) + 1);
      }
    }
  }
  return out;
}

/** Encodes pixels (RgbImage or PixelBuffer) as a PNG file. */
export async function encodePng(img: RgbImage | PixelBuffer): Promise<Uint8Array<ArrayBuffer>> {
  const channels = (img as PixelBuffer).channels ?? 3;
  const { width, height, data } = img;
  if (!(channels in COLOR_TYPE)) throw new Error(`PNG: unsupported channel count ${channels}`);
  if (data.length !== width * height * channels)
    throw new Error(
      `PNG: ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${data.length}`,
    );
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = COLOR_TYPE[channels];
  const idat = await zlibDeflate(filterRows(data, width, height, channels));
  return concatBytes([SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", new Uint8Array(0))]);
}
