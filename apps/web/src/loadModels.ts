// A ModelChoice (URLs or picked files) -> checked models and, for latent models, a VAE decoder session:
// what the worker opens a FlowTurboPipeline on. No DOM or worker code (Node tests run it).
import type { Backend, ExecutionProvider } from "@flowturbo/core";
import {
  missingVaeMessage,
  needsVae,
  openVaeDecoder,
  type PipelineModels,
  readModel,
} from "@flowturbo/pipeline";
import type { ModelCheckpoint } from "@flowturbo/sit";
import { type DownloadProgress, readModelFile, refName } from "./modelFiles";
import type { FileRef, ModelChoice } from "./protocol";

async function readCheckpoint(
  ref: FileRef,
  what: "base model" | "refiner",
  heads: number | undefined,
  onDownload?: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<ModelCheckpoint> {
  const bytes = await readModelFile(ref, onDownload, signal);
  try {
    return await readModel(bytes, {
      expect: what === "refiner" ? "refiner" : "sit",
      file: refName(ref),
      heads,
    });
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

export async function loadModels(
  backend: Backend,
  model: ModelChoice,
  providers: readonly ExecutionProvider[],
  onDownload?: (p: DownloadProgress) => void,
  /** Stops the downloads (AbortError). */
  signal?: AbortSignal,
): Promise<PipelineModels> {
  const base = await readCheckpoint(model.base, "base model", model.heads, onDownload, signal);
  const refiner = model.refiner
    ? await readCheckpoint(model.refiner, "refiner", model.heads, onDownload, signal)
    : undefined;
  if (!needsVae(base)) return { base, refiner };
  if (!model.vae) throw new Error(missingVaeMessage(base));
  const config = model.vaeConfig
    ? {
        text: new TextDecoder().decode(await readModelFile(model.vaeConfig, undefined, signal)),
        file: refName(model.vaeConfig),
      }
    : undefined;
  const vae = await openVaeDecoder(backend, await readModelFile(model.vae, onDownload, signal), {
    file: refName(model.vae),
    config,
    providers,
  });
  return { base, refiner, vae };
}
