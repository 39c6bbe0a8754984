// Image sources: what the feature extractor consumes. Decoding image files belongs to
// @flowturbo/data; anything that yields RGB uint8 images plugs in here.
import { type NpzFile, npyHeaderLength, readAt, TensorFileError } from "@flowturbo/tensor";

/** One RGB image, uint8 in HWC order (height x width x 3), values 0..255. */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
  /** Where it came from (a file name), for messages. */
  name?: string;
}

/** What `flowturbo eval` reads a folder through: any (async) iterable of RGB images. */
export type ImageSource = AsyncIterable<RgbImage> | Iterable<RgbImage>;

/**
 * A batch of images of one size, in one of the two input conventions:
 * - "uint8": NHWC uint8 in [0, 255] (image files, ADM sample npz files);
 * - "float": NCHW float32 in [0, 1] without quantization (FlowTurbo's decoded samples).
 */
export type ImageBatch =
  | { kind: "uint8"; data: Uint8Array; count: number; height: number; width: number }
  | { kind: "float"; data: Float32Array; count: number; height: number; width: number };

export type BatchSource = AsyncIterable<ImageBatch> | Iterable<ImageBatch>;

function checkImage(img: RgbImage): void {
  const { height: h, width: w } = img;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new Error(`${img.name ?? "image"}: bad size ${w}x${h}`);
  }
  if (img.data.length !== h * w * 3) {
    throw new Error(
      `${img.name ?? "image"}: ${img.data.length} bytes for ${w}x${h} RGB (expected ${h * w * 3}; HWC uint8 with 3 channels)`,
    );
  }
}

/**
 * Groups consecutive images of the same size into uint8 batches of up to `batchSize` (a batch ends
 * early where the size changes).
 */
export async function* batchImages(images: ImageSource, batchSize: number): AsyncGenerator<ImageBatch> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batchImages: bad batch size ${batchSize}`);
  let buf: Uint8Array | undefined;
  let count = 0;
  let h = 0;
  let w = 0;
  const flush = (): ImageBatch => {
    const out: ImageBatch = {
      kind: "uint8",
      data: buf!.slice(0, count * h * w * 3),
      count,
      height: h,
      width: w,
    };
    count = 0;
    return out;
  };
  for await (const img of images) {
    checkImage(img);
    if (count > 0 && (img.height !== h || img.width !== w)) yield flush();
    if (count === 0) {
      h = img.height;
      w = img.width;
      if (!buf || buf.length !== batchSize * h * w * 3) buf = new Uint8Array(batchSize * h * w * 3);
    }
    buf!.set(img.data, count * h * w * 3);
    count++;
    if (count === batchSize) yield flush();
  }
  if (count > 0) yield flush();
}

/** What a sample npz holds (ADM's layout: arr_0 uint8 NHWC). */
export interface SampleArrayInfo {
  name: string;
  count: number;
  height: number;
  width: number;
}

/** Describes the image array of a sample npz (default `arr_0`) without reading it. */
export async function sampleArrayInfo(npz: NpzFile, arrayName = "arr_0"): Promise<SampleArrayInfo> {
  if (!npz.has(arrayName)) {
    throw new TensorFileError(
      npz.name,
      `no image array '${arrayName}' (arrays: ${npz.names.join(", ") || "none"})`,
    );
  }
  const h = await npz.header(arrayName);
  if (h.dtype !== "uint8" || h.shape.length !== 4 || h.shape[3] !== 3) {
    throw new TensorFileError(
      npz.name,
      `'${arrayName}' is ${h.dtype}[${h.shape.join(", ")}]; expected uint8 images [N, H, W, 3] (NHWC, 0..255)`,
    );
  }
  return { name: arrayName, count: h.shape[0], height: h.shape[1], width: h.shape[2] };
}

/**
 * Streams the images of a sample npz (arr_0 uint8 NHWC, as ADM's evaluator reads them) in batches.
 * A stored member (np.savez) is read batch by batch by byte range, so a 9.8 GB sample file never
 * sits in memory; a deflated one (np.savez_compressed) has to be inflated whole first.
 */
export async function* sampleNpzBatches(
  npz: NpzFile,
  options: { batchSize?: number; arrayName?: string } = {},
): AsyncGenerator<ImageBatch> {
  const batchSize = options.batchSize ?? 64;
  const info = await sampleArrayInfo(npz, options.arrayName);
  const per = info.height * info.width * 3;
  const entry = npz.zip.get(`${info.name}.npy`) ?? npz.zip.get(info.name)!;
  if (entry.method === 0) {
    const src = await npz.zip.storedSource(entry);
    const prefix = await readAt(src, 0, Math.min(12, entry.size), "npy header");
    const start = npyHeaderLength(prefix, { file: npz.name, array: info.name });
    for (let i = 0; i < info.count; i += batchSize) {
      const count = Math.min(batchSize, info.count - i);
      const data = await readAt(
        src,
        start + i * per,
        count * per,
        `images ${i}..${i + count} of '${info.name}'`,
      );
      yield { kind: "uint8", data, count, height: info.height, width: info.width };
    }
  } else {
    const all = (await npz.read(info.name)).data as Uint8Array;
    for (let i = 0; i < info.count; i += batchSize) {
      const count = Math.min(batchSize, info.count - i);
      yield {
        kind: "uint8",
        data: all.subarray(i * per, (i + count) * per),
        count,
        height: info.height,
        width: info.width,
      };
    }
  }
}
