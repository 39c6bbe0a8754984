/// <reference types="node" />
// Node side of @flowturbo/pipeline ("@flowturbo/pipeline/node"): models and VAEs from files and folders.
import { stat } from "node:fs/promises";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Backend, ExecutionProvider } from "@flowturbo/core";
import type { ModelCheckpoint } from "@flowturbo/sit";
import { withFileSource } from "@flowturbo/tensor/node";
import type { VaeDecoder } from "@flowturbo/vae";
import { openVaeDecoder, type ReadModelOptions, readModel } from "./models";

/** Reads a SiT or refiner checkpoint file (.pt, .safetensors, .onnx) and checks its kind. */
export function readModelFile(path: string, opts: Omit<ReadModelOptions, "file">): Promise<ModelCheckpoint> {
  return withFileSource(path, (src) => readModel(src, { ...opts, file: basename(path) }));
}

/** The weights file of a diffusers AutoencoderKL folder (e.g. stabilityai/sd-vae-ft-ema). */
export const DIFFUSERS_VAE_WEIGHTS = "diffusion_pytorch_model.safetensors";

/**
 * A VAE decoder from a diffusers folder (config.json + diffusion_pytorch_model.safetensors) or a
 * .safetensors file (SD's configuration unless `configPath` names a config.json).
 */
export async function openVaeFile(
  backend: Backend,
  path: string,
  opts: {
    configPath?: string;
    latentSize?: number | readonly [number, number];
    providers?: readonly ExecutionProvider[];
  } = {},
): Promise<VaeDecoder> {
  let weights = path;
  let configPath = opts.configPath;
  if ((await stat(path)).isDirectory()) {
    weights = join(path, DIFFUSERS_VAE_WEIGHTS);
    configPath ??= join(path, "config.json");
  }
  const config = configPath
    ? { text: await readFile(configPath, "utf8"), file: basename(configPath) }
    : undefined;
  return openVaeDecoder(backend, new Uint8Array(await readFile(weights)), {
    file: basename(weights),
    config,
    latentSize: opts.latentSize,
    providers: opts.providers,
  });
}
