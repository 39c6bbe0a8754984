// Image resampling that reproduces Pillow's `Image.resize` (libImaging/Resample.c) bit for bit on 8-bit
// RGB images: separable convolution, horizontal pass first (rounded to uint8), then vertical; filter
// support scaled by the downscale factor (antialiasing); coefficients normalized per output pixel and
// converted to 22-bit fixed point; results rounded half up and clipped to [0, 255].
// Pure integer/float64 arithmetic in the same order as the C code, so Node and browsers agree exactly.

import type { RgbImage } from "./image";

/** Pillow's resampling filters supported here (PIL.Image.BOX, BILINEAR, BICUBIC, LANCZOS). */
export type ResampleFilter = "box" | "bilinear" | "bicubic" | "lanczos";

interface Filter {
  support: number;
  fn: (x: number) => number;
}

function boxFilter(x: number): number {
  return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}

function bilinearFilter(x: number): number {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

/** Keys' cubic convolution with a = -0.5 (Pillow's BICUBIC). */
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

function sinc(x: number): number {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

function lanczosFilter(x: number): number {
  // truncated sinc, a = 3
  if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
  return 0.0;
}

const FILTERS: Record<ResampleFilter, Filter> = {
  box: { support: 0.5, fn: boxFilter },
  bilinear: { support: 1.0, fn: bilinearFilter },
  bicubic: { support: 2.0, fn: bicubicFilter },
  lanczos: { support: 3.0, fn: lanczosFilter },
};

/** 32 - 8 - 2: 8 bits for the result, 2 for overflow of filters with negative lobes. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const MAX = 1 << (PRECISION_BITS + 8);

/** Resampling coefficients for one axis: per output pixel, the first input index, tap count and weights. */
export interface AxisCoefficients {
  ksize: number;
  /** [xmin, count] per output pixel. */
  bounds: Int32Array;
  /** Fixed-point weights (22 fractional bits), `ksize` per output pixel. */
  weights: Int32Array;
}

/**
 * Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for resampling `inSize` pixels (the source range
 * [in0, in1)) to `outSize`.
 */
export function axisCoefficients(
  inSize: number,
  outSize: number,
  filter: ResampleFilter,
  in0 = 0,
  in1 = inSize,
): AxisCoefficients {
  const f = FILTERS[filter];
  // Pillow passes the box as C floats; integer boxes are exact.
  in0 = Math.fround(in0);
  in1 = Math.fround(in1);
  const scale = (in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = f.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = f.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) if (ww !== 0.0) k[x] /= ww;
    for (let x = xmax; x < ksize; x++) k[x] = 0;
    for (let x = 0; x < ksize; x++) {
      const v = k[x];
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  if (v >= MAX) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

function resampleHorizontal(
  src: Uint8Array,
  srcW: number,
  rowOffset: number,
  rows: number,
  outW: number,
  c: AxisCoefficients,
): Uint8Array {
  const out = new Uint8Array(rows * outW * 3);
  const { ksize, bounds, weights } = c;
  for (let y = 0; y < rows; y++) {
    const srow = (y + rowOffset) * srcW * 3;
    const drow = y * outW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[2 * xx];
      const xmax = bounds[2 * xx + 1];
      const kb = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = srow + xmin * 3;
      for (let x = 0; x < xmax; x++, p += 3) {
        const w = weights[kb + x];
        s0 = (s0 + src[p] * w) | 0;
        s1 = (s1 + src[p + 1] * w) | 0;
        s2 = (s2 + src[p + 2] * w) | 0;
      }
      const d = drow + xx * 3;
      out[d] = clip8(s0);
      out[d + 1] = clip8(s1);
      out[d + 2] = clip8(s2);
    }
  }
  return out;
}

function resampleVertical(
  src: Uint8Array,
  width: number,
  outH: number,
  c: AxisCoefficients,
  boundsShift: number,
): Uint8Array {
  const out = new Uint8Array(outH * width * 3);
  const { ksize, bounds, weights } = c;
  const stride = width * 3;
  // Row-wise accumulation (sequential memory access). As in Pillow, sums fit in int32: |weights| < 2^22
  // with at most 2 bits of overshoot.
  const acc = new Int32Array(stride);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[2 * yy] - boundsShift;
    const ymax = bounds[2 * yy + 1];
    const kb = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < ymax; y++) {
      const w = weights[kb + y];
      const row = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] = (acc[i] + src[row + i] * w) | 0;
    }
    const drow = yy * stride;
    for (let i = 0; i < stride; i++) out[drow + i] = clip8(acc[i]);
  }
  return out;
}

/**
 * Resizes an RGB image to `width` x `height` exactly like Pillow's `Image.resize(size, filter)` on an
 * "RGB" image (no `box`, no `reducing_gap`). The same size returns a copy.
 */
export function resizeRgb(img: RgbImage, width: number, height: number, filter: ResampleFilter): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new Error(`resize target must be positive integers, got ${width}x${height}`);
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const needH = width !== img.width;
  const needV = height !== img.height;
  const ch = axisCoefficients(img.width, width, filter);
  const cv = axisCoefficients(img.height, height, filter);
  let data = img.data;
  let shift = 0;
  if (filter === "box" && (!needH || img.width === 2 * width) && (!needV || img.height === 2 * height)) {
    // Exact 2x box: weights 1/2, 1/2 (2^21 each), so each pass is (a + b + 1) >> 1 — the same integers.
    if (needH) data = halveHorizontal(data, img.width, img.height);
    if (needV) data = halveVertical(data, width, img.height);
    return { width, height, data };
  }
  if (needH) {
    // Only the rows the vertical pass reads (all of them when there is no vertical pass).
    const first = needV ? cv.bounds[0] : 0;
    const last = needV ? cv.bounds[2 * height - 2] + cv.bounds[2 * height - 1] : img.height;
    data = resampleHorizontal(data, img.width, first, last - first, width, ch);
    shift = first;
  }
  if (needV) data = resampleVertical(data, width, height, cv, shift);
  return { width, height, data };
}

function halveHorizontal(src: Uint8Array, w: number, h: number): Uint8Array {
  const ow = w >> 1;
  const out = new Uint8Array(ow * h * 3);
  let d = 0;
  for (let y = 0; y < h; y++) {
    let p = y * w * 3;
    for (let x = 0; x < ow; x++, p += 6, d += 3) {
      out[d] = (src[p] + src[p + 3] + 1) >> 1;
      out[d + 1] = (src[p + 1] + src[p + 4] + 1) >> 1;
      out[d + 2] = (src[p + 2] + src[p + 5] + 1) >> 1;
    }
  }
  return out;
}

function halveVertical(src: Uint8Array, w: number, h: number): Uint8Array {
  const oh = h >> 1;
  const stride = w * 3;
  const out = new Uint8Array(oh * stride);
  for (let y = 0; y < oh; y++) {
    const a = 2 * y * stride;
    const b = a + stride;
    const d = y * stride;
    for (let i = 0; i < stride; i++) out[d + i] = (src[a + i] + src[b + i] + 1) >> 1;
  }
  return out;
}

/** Python's `round()` on a float: to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * guided-diffusion's `center_crop_arr` (ADM's ImageNet preprocessing): while the short side is at least
 * twice `size`, halve the image (`(w // 2, h // 2)`) with a BOX filter; then resize with BICUBIC so that
 * the short side is `size` (each side `round(side * size / short)`, Python rounding); then crop the
 * central `size` x `size` square (offsets `(h - size) // 2`, `(w - size) // 2`).
 */
export function centerCropArr(img: RgbImage, size: number): RgbImage {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`crop size must be a positive integer, got ${size}`);
  while (Math.min(img.width, img.height) >= 2 * size) {
    img = resizeRgb(img, Math.floor(img.width / 2), Math.floor(img.height / 2), "box");
  }
  const scale = size / Math.min(img.width, img.height);
  img = resizeRgb(img, roundHalfEven(img.width * scale), roundHalfEven(img.height * scale), "bicubic");
  const cy = Math.floor((img.height - size) / 2);
  const cx = Math.floor((img.width - size) / 2);
  return cropOrView(img, cx, cy, size);
}

function cropOrView(img: RgbImage, x: number, y: number, size: number): RgbImage {
  if (x === 0 && y === 0 && img.width === size && img.height === size) return img;
  const out = new Uint8Array(size * size * 3);
  for (let r = 0; r < size; r++) {
    const s = ((y + r) * img.width + x) * 3;
    out.set(img.data.subarray(s, s + size * 3), r * size * 3);
  }
  return { width: size, height: size, data: out };
}
