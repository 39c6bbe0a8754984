// A ModelChoice (URLs or picked files) -> checked checkpoints and, for latent models, a VAE decoder
// session: what the worker hands to the Generator. No DOM or worker code (Node tests run it).
import type { Backend, ExecutionProvider } from "@flowturbo/core";
import { loadCheckpoint, type ModelCheckpoint } from "@flowturbo/refiner";
import {
  loadVaeDecoder,
  loadVaeWeights,
  SD_VAE_CONFIG,
  type VaeDecoder,
  vaeConfigFromDiffusers,
} from "@flowturbo/vae";
import { type GeneratorModels, requireDecoder } from "./generator";
import { type DownloadProgress, readModelFile, refName } from "./modelFiles";
import type { FileRef, ModelChoice } from "./protocol";

async function readCheckpoint(
  ref: FileRef,
  what: "base model" | "refiner",
  heads: number | undefined,
  onDownload?: (p: DownloadProgress) => void,
): Promise<ModelCheckpoint> {
  const bytes = await readModelFile(ref, onDownload);
  let ckpt: ModelCheckpoint;
  try {
    ckpt = await loadCheckpoint(bytes, { file: refName(ref), heads });
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  const want = what === "refiner" ? "refiner" : "sit";
  if (ckpt.kind !== want)
    throw new Error(
      `${what}: ${ckpt.file} is a ${ckpt.kind} checkpoint, expected a ${want === "sit" ? "SiT" : want}`,
    );
  return ckpt;
}

/** The VAE decoder of a latent model: diffusers weights, with config.json or SD's (sd-vae-ft-ema). */
async function openVae(
  backend: Backend,
  model: ModelChoice,
  providers: readonly ExecutionProvider[],
  onDownload?: (p: DownloadProgress) => void,
): Promise<VaeDecoder> {
  const vae = model.vae!;
  const file = refName(vae);
  let config = SD_VAE_CONFIG;
  if (model.vaeConfig) {
    const text = new TextDecoder().decode(await readModelFile(model.vaeConfig));
    config = vaeConfigFromDiffusers(text, refName(model.vaeConfig));
  }
  const weights = await loadVaeWeights(await readModelFile(vae, onDownload), {
    file,
    config,
    parts: ["decoder"],
  });
  return loadVaeDecoder(backend, weights, { config, session: { providers } });
}

export async function loadModels(
  backend: Backend,
  model: ModelChoice,
  providers: readonly ExecutionProvider[],
  onDownload?: (p: DownloadProgress) => void,
): Promise<GeneratorModels> {
  const base = await readCheckpoint(model.base, "base model", model.heads, onDownload);
  const refiner = model.refiner
    ? await readCheckpoint(model.refiner, "refiner", model.heads, onDownload)
    : undefined;
  if (base.config.keepChannels === 3) return { base, refiner };
  requireDecoder(base, model.vae !== undefined);
  return { base, refiner, vae: await openVae(backend, model, providers, onDownload) };
}
