// Writing images: shared by `sample` and `decode`.
import { writePngFolder, writePngGrid, writeSampleNpz } from "@flowturbo/data/node";
import type { Tensor } from "@flowturbo/tensor";
import { UsageError } from "./cli";

export type ImageOutput = { kind: "grid" | "npz" | "folder"; path: string };

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

/** Writes float [-1, 1] NCHW images (quantized as SiT: clamp(127.5 x + 128, 0, 255), truncated). */
export async function writeImages(
  out: ImageOutput,
  images: Tensor,
  labels: readonly number[],
): Promise<void> {
  if (images.shape[1] !== 3)
    throw new UsageError(
      `cannot write ${images.shape[1]}-channel outputs as images: pass --vae to decode latents`,
    );
  if (out.kind === "grid") await writePngGrid(images, Math.ceil(Math.sqrt(images.shape[0])), out.path);
  else if (out.kind === "npz") await writeSampleNpz(out.path, images, labels);
  else await writePngFolder(images, out.path, { labels });
}
