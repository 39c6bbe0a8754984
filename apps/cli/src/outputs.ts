// Writing images and latents batch by batch (shared by `sample` and `decode`): every output is checked
// before any work, appears atomically, and a folder of PNGs records whether its run finished.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import {
  openSampleNpzWriter,
  PngFolderWriter,
  type SampleNpzWriter,
  writePngGrid,
} from "@flowturbo/data/node";
import { Tensor } from "@flowturbo/tensor";
import { openSafetensorsWriter, type SafetensorsWriter } from "@flowturbo/tensor/node";
import { UsageError } from "./cli";
import { checkOutputFile, checkOutputFolder } from "./files";

export type ImageOutput = { kind: "grid" | "npz" | "folder"; path: string };

/** The most images one PNG grid holds (a 32 x 32 grid); larger runs go to a folder or an npz. */
export const MAX_GRID_IMAGES = 1024;

/** `.png` -> one grid, `.npz` -> ADM sample npz, no extension (or a trailing /) -> a folder of PNGs; other extensions are refused. */
export function imageOutput(path: string): ImageOutput {
  if (path.endsWith(".png")) return { kind: "grid", path };
  if (path.endsWith(".npz")) return { kind: "npz", path };
  // a trailing slash always means a folder (e.g. "run.v2/")
  const ext = path.endsWith("/") ? undefined : /\.([A-Za-z][A-Za-z0-9]{1,4})$/.exec(path)?.[1];
  if (ext)
    throw new UsageError(
      `-o ${path}: images are written as a .png grid, an ADM .npz batch or a folder of PNGs (a path without an extension, or ending in /); .${ext} is none of these`,
    );
  return { kind: "folder", path };
}

/** Checks -o before any work: its kind, the grid's size for `count` images, that it can be written. */
export async function checkImageOutput(path: string, count: number): Promise<ImageOutput> {
  const out = imageOutput(path);
  if (out.kind === "grid" && count > MAX_GRID_IMAGES)
    throw new UsageError(
      `-o ${path}: a PNG grid holds at most ${MAX_GRID_IMAGES} images, not ${count}: write a folder (-o DIR) or an ADM .npz`,
    );
  if (out.kind === "folder") await checkOutputFolder(path, "-o");
  else await checkOutputFile(path, "-o");
  return out;
}

/**
 * Images in batches of float [-1, 1] NCHW (quantized as SiT: clamp(127.5 x + 128, 0, 255), truncated):
 * a grid is written at the end (atomically), an npz and a folder as the batches come (an npz
 * atomically, a folder with its completeness record).
 */
export class ImageWriter {
  private readonly grid: Tensor[] = [];
  private npz?: SampleNpzWriter;
  private folder?: PngFolderWriter;

  constructor(
    readonly out: ImageOutput,
    /** Images the run writes. */
    readonly count: number,
  ) {}

  /** The next images and their labels (none: files without labels, an npz without arr_1). */
  async add(images: Tensor, labels?: readonly number[]): Promise<void> {
    if (images.shape[1] !== 3)
      throw new UsageError(
        `cannot write ${images.shape[1]}-channel outputs as images: pass --vae to decode latents`,
      );
    const [, , height, width] = images.shape;
    if (this.out.kind === "grid") {
      this.grid.push(images);
    } else if (this.out.kind === "npz") {
      this.npz ??= await openSampleNpzWriter(this.out.path, {
        count: this.count,
        height,
        width,
        labels: labels !== undefined,
      });
      await this.npz.append(images, labels);
    } else {
      this.folder ??= await PngFolderWriter.open(this.out.path, { count: this.count });
      await this.folder.append(images, labels);
    }
  }

  async close(): Promise<void> {
    if (this.out.kind === "grid") {
      const images = Tensor.concatRows(this.grid);
      await writePngGrid(images, Math.ceil(Math.sqrt(images.shape[0])), this.out.path);
    } else if (this.npz) await this.npz.close();
    else if (this.folder) await this.folder.close();
  }

  /** After a failure: no npz appears, a folder's record keeps saying incomplete. */
  async abort(): Promise<void> {
    await this.npz?.abort();
    await this.folder?.abort();
  }
}

/** Writes all `images` at once (see ImageWriter). */
export async function writeImages(
  out: ImageOutput,
  images: Tensor,
  labels?: readonly number[],
): Promise<void> {
  const w = new ImageWriter(out, images.shape[0]);
  try {
    await w.add(images, labels);
    await w.close();
  } catch (e) {
    await w.abort();
    throw e;
  }
}

/**
 * `--latents-out FILE`: safetensors `latents` [n, C, H, W] float32 and `labels` [n] int64, written batch
 * by batch (the same bytes as writing them whole), atomically.
 */
export async function openLatentsWriter(
  path: string,
  shape: readonly number[],
  labels: readonly number[],
): Promise<SafetensorsWriter> {
  await mkdir(dirname(path), { recursive: true });
  const w = await openSafetensorsWriter(path, [
    { name: "latents", dtype: "float32", shape: [labels.length, ...shape] },
    { name: "labels", dtype: "int64", shape: [labels.length] },
  ]);
  await w.append(
    "labels",
    BigInt64Array.from(labels, (l) => BigInt(l)),
  );
  return w;
}
