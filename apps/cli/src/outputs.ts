// Opening the VAE and writing images: shared by `sample` and `decode`.
import { readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Backend, ExecutionProvider } from "@flowturbo/core";
import { writePngFolder, writePngGrid, writeSampleNpz } from "@flowturbo/data/node";
import type { Tensor } from "@flowturbo/tensor";
import {
  loadVaeDecoder,
  loadVaeWeights,
  SD_VAE_CONFIG,
  type VaeConfig,
  type VaeDecoder,
  vaeConfigFromDiffusers,
} from "@flowturbo/vae";
import { UsageError } from "./cli";
import { requireFile } from "./files";

const DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors";

/**
 * Opens a VAE decoder from a diffusers folder (config.json + diffusion_pytorch_model.safetensors, e.g.
 * stabilityai/sd-vae-ft-ema) or a .safetensors file (SD configuration unless `configPath` is given).
 */
export async function openVaeDecoder(
  backend: Backend,
  path: string,
  opts: { configPath?: string; latentSize: number; providers: readonly ExecutionProvider[] },
): Promise<VaeDecoder> {
  await requireFile(path, "--vae");
  let weightsPath = path;
  let configPath = opts.configPath;
  if ((await stat(path)).isDirectory()) {
    weightsPath = join(path, DIFFUSERS_WEIGHTS);
    configPath ??= join(path, "config.json");
    await requireFile(weightsPath, `--vae ${path}: expected ${DIFFUSERS_WEIGHTS} in the folder;`);
  }
  let config: VaeConfig = SD_VAE_CONFIG;
  if (configPath)
    config = vaeConfigFromDiffusers(
      await readFile(await requireFile(configPath, "--vae-config"), "utf8"),
      basename(configPath),
    );
  const weights = await loadVaeWeights(new Uint8Array(await readFile(weightsPath)), {
    config,
    file: basename(weightsPath),
    parts: ["decoder"],
  });
  return loadVaeDecoder(backend, weights, {
    config,
    graph: { latentSize: opts.latentSize },
    session: { providers: opts.providers },
  });
}

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
