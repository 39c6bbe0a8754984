// Sample outputs: image grids, PNG bytes and ADM-evaluator sample .npz files (browser-safe parts; file
// writers are in "@flowturbo/data/node").

import {
  type NamedTensors,
  npzChunks,
  type Tensor,
  Tensor as T,
  type ZipWriteOptions,
} from "@flowturbo/tensor";
import { asUint8Nhwc, type RgbImage } from "./image";
import { encodePng } from "./png";

export interface GridOptions {
  /** Pixels between and around images (default 2, as torchvision's make_grid). */
  padding?: number;
  /** Gray level (0-255) of the padding (default 0). */
  padValue?: number;
}

/**
 * Tiles images (uint8 NHWC [N, H, W, 3], or float NCHW [N, 3, H, W] in [-1, 1], quantized like SiT) into
 * one image with `cols` columns, torchvision make_grid style.
 */
export function makeGrid(images: Tensor, cols: number, options: GridOptions = {}): RgbImage {
  const u8 = asUint8Nhwc(images);
  const [n, h, w, c] = u8.shape;
  if (c !== 3) throw new Error(`makeGrid needs 3-channel images, got ${c}`);
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`cols must be a positive integer, got ${cols}`);
  const pad = options.padding ?? 2;
  const ncols = Math.min(cols, Math.max(n, 1));
  const nrows = Math.ceil(n / ncols);
  const width = ncols * (w + pad) + pad;
  const height = nrows * (h + pad) + pad;
  const data = new Uint8Array(width * height * 3).fill(options.padValue ?? 0);
  for (let i = 0; i < n; i++) {
    const x0 = pad + (i % ncols) * (w + pad);
    const y0 = pad + Math.floor(i / ncols) * (h + pad);
    for (let y = 0; y < h; y++) {
      const src = (i * h + y) * w * 3;
      data.set(u8.data.subarray(src, src + w * 3), ((y0 + y) * width + x0) * 3);
    }
  }
  return { width, height, data };
}

/** A PNG of `makeGrid(images, cols)`. */
export function encodePngGrid(images: Tensor, cols: number, options: GridOptions = {}): Promise<Uint8Array> {
  return encodePng(makeGrid(images, cols, options));
}

/** Checks and normalizes labels for a sample npz: int64 [N]. */
export function sampleLabels(labels: Tensor | ArrayLike<number> | BigInt64Array, n: number): Tensor<"int64"> {
  let t: Tensor<"int64">;
  if (labels instanceof T)
    t = (labels.dtype === "int64" ? labels : labels.astype("int64")) as Tensor<"int64">;
  else if (labels instanceof BigInt64Array) t = new T("int64", [labels.length], labels);
  else t = T.from("int64", [labels.length], Array.from(labels as ArrayLike<number>));
  if (t.rank !== 1 || t.shape[0] !== n) throw new Error(`labels must have shape [${n}], got [${t.shape}]`);
  return t;
}

/**
 * The arrays of an ADM-evaluator sample file: arr_0 uint8 NHWC [N, H, W, 3] (float NCHW in [-1, 1] is
 * quantized as SiT does) and, if given, arr_1 int64 labels [N].
 */
export function sampleNpzArrays(
  images: Tensor,
  labels?: Tensor | ArrayLike<number> | BigInt64Array,
): NamedTensors {
  const arr0 = asUint8Nhwc(images);
  const out: [string, Tensor][] = [["arr_0", arr0]];
  if (labels !== undefined) out.push(["arr_1", sampleLabels(labels, arr0.shape[0])]);
  return out;
}

/** The bytes of a sample .npz as chunks (stored members; ZIP64 when needed or forced). */
export function sampleNpzChunks(
  images: Tensor,
  labels?: Tensor | ArrayLike<number> | BigInt64Array,
  options: ZipWriteOptions = {},
): Generator<Uint8Array> {
  return npzChunks(sampleNpzArrays(images, labels), options);
}
