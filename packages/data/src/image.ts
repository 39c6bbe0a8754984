// RGB images as interleaved uint8 buffers, and conversions to/from the model's float tensors.

import { quantizeImages, Tensor } from "@flowturbo/tensor";

/** An 8-bit RGB image: `data` holds height*width*3 bytes, row-major, channels interleaved (HWC). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Checks dimensions and buffer length; returns the image. */
export function rgbImage(width: number, height: number, data?: Uint8Array): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new Error(`image size must be positive integers, got ${width}x${height}`);
  const n = width * height * 3;
  if (data && data.length !== n)
    throw new Error(`a ${width}x${height} RGB image needs ${n} bytes, got ${data.length}`);
  return { width, height, data: data ?? new Uint8Array(n) };
}

/**
 * RGB from interleaved pixels with 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels. Alpha is
 * dropped without compositing, as PIL's `convert("RGB")` does (what ADM's loader calls).
 */
export function toRgb(width: number, height: number, channels: number, pixels: Uint8Array): RgbImage {
  const n = width * height;
  if (pixels.length !== n * channels)
    throw new Error(`${width}x${height}x${channels} pixels need ${n * channels} bytes, got ${pixels.length}`);
  if (channels === 3) return rgbImage(width, height, pixels);
  const out = new Uint8Array(n * 3);
  if (channels === 1 || channels === 2) {
    for (let i = 0; i < n; i++) {
      const v = pixels[i * channels];
      out[3 * i] = v;
      out[3 * i + 1] = v;
      out[3 * i + 2] = v;
    }
  } else if (channels === 4) {
    for (let i = 0; i < n; i++) {
      out[3 * i] = pixels[4 * i];
      out[3 * i + 1] = pixels[4 * i + 1];
      out[3 * i + 2] = pixels[4 * i + 2];
    }
  } else {
    throw new Error(`unsupported channel count ${channels} (expected 1, 2, 3 or 4)`);
  }
  return rgbImage(width, height, out);
}

/** Mirrors an image left-right (numpy `arr[:, ::-1]`). */
export function flipHorizontal(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const s = row + x * 3;
      const d = row + (w - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: w, height: h, data: out };
}

/** The rectangle [x, x+width) x [y, y+height) of an image (must lie inside it). */
export function cropRgb(img: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  if (x < 0 || y < 0 || x + width > img.width || y + height > img.height || width < 1 || height < 1)
    throw new Error(
      `crop ${width}x${height} at (${x}, ${y}) does not fit in a ${img.width}x${img.height} image`,
    );
  const out = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++) {
    const s = ((y + r) * img.width + x) * 3;
    out.set(img.data.subarray(s, s + width * 3), r * width * 3);
  }
  return { width, height, data: out };
}

/**
 * Writes an image into `out` (at element `offset`) as CHW float32 in [-1, 1]: v / 127.5 - 1, exactly ADM's
 * `arr.astype(np.float32) / 127.5 - 1` (float32 division, then float32 subtraction).
 */
export function rgbToChwInto(img: RgbImage, out: Float32Array, offset = 0, flip = false): void {
  const { width: w, height: h, data } = img;
  const plane = w * h;
  // 256-entry table: float32(float32(v) / 127.5) - 1 rounded to float32, as numpy computes in float32.
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + (flip ? w - 1 - x : x)) * 3;
      const d = offset + y * w + x;
      out[d] = CHW_TABLE[data[s]];
      out[d + plane] = CHW_TABLE[data[s + 1]];
      out[d + 2 * plane] = CHW_TABLE[data[s + 2]];
    }
  }
}

const CHW_TABLE = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(v / 127.5) - 1);
  return t;
})();

/** One image as a float32 tensor [3, H, W] in [-1, 1] (optionally mirrored). */
export function rgbToTensor(img: RgbImage, flip = false): Tensor<"float32"> {
  const out = new Float32Array(3 * img.width * img.height);
  rgbToChwInto(img, out, 0, flip);
  return new Tensor("float32", [3, img.height, img.width], out);
}

/**
 * SiT's quantization of model output: uint8 = clamp(127.5 x + 128, 0, 255), truncated. Float tensors
 * [N, 3, H, W] (or [3, H, W]) in [-1, 1] become uint8 NHWC [N, H, W, 3] ([H, W, 3]).
 */
export function floatToUint8Nhwc(images: Tensor): Tensor<"uint8"> {
  return quantizeImages(images);
}

/**
 * Accepts sample images as uint8 NHWC [N, H, W, 3] (returned as is) or float [N, 3, H, W] in [-1, 1]
 * (quantized with `floatToUint8Nhwc`).
 */
export function asUint8Nhwc(images: Tensor): Tensor<"uint8"> {
  if (images.dtype === "uint8") {
    if (images.rank !== 4 || (images.shape[3] !== 3 && images.shape[3] !== 1))
      throw new Error(`uint8 images must be NHWC [N, H, W, 3], got [${images.shape}]`);
    return images as Tensor<"uint8">;
  }
  if (images.rank !== 4) throw new Error(`float images must be NCHW [N, 3, H, W], got [${images.shape}]`);
  return floatToUint8Nhwc(images);
}

/** Image `i` of a uint8 NHWC tensor [N, H, W, 3] as an RgbImage (a view, no copy). */
export function nhwcImage(images: Tensor<"uint8">, i: number): RgbImage {
  const [n, h, w, c] = images.shape;
  if (c !== 3) throw new Error(`expected 3 channels, got ${c}`);
  if (i < 0 || i >= n) throw new Error(`image index ${i} out of range [0, ${n})`);
  const size = h * w * 3;
  return { width: w, height: h, data: images.data.subarray(i * size, (i + 1) * size) };
}
