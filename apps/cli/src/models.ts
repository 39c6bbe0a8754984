// Opening model files for commands: --base / --refiner / --vae paths -> a FlowTurboPipeline (the same
// object the web app samples through). Missing files and files of the wrong kind are usage errors
// that name the flag.
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Backend, ExecutionProvider } from "@flowturbo/core";
import { FlowTurboPipeline } from "@flowturbo/pipeline";
import { DIFFUSERS_VAE_WEIGHTS, openVaeFile, readModelFile } from "@flowturbo/pipeline/node";
import type { ModelCheckpoint, ModelKind } from "@flowturbo/sit";
import type { VaeDecoder } from "@flowturbo/vae";
import { UsageError } from "./cli";
import { requireFile } from "./files";

/**
 * Reads `path` (given as `flag`) and checks that it holds a `expect` model whose weights fit its
 * architecture. A file the command cannot use (wrong kind, malformed, inconsistent) is a usage error
 * naming the flag and the file; failures of the file system stay failures.
 */
export async function readCheckpoint(
  path: string,
  flag: string,
  heads: number | undefined,
  expect: ModelKind,
): Promise<ModelCheckpoint> {
  await requireFile(path, flag);
  try {
    return await readModelFile(path, { expect, heads });
  } catch (e) {
    throw inputError(e, flag);
  }
}

/** An error reading an input file given as `flag`: a usage error naming the flag, unless the system failed. */
export function inputError(e: unknown, flag: string): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  if ((err as NodeJS.ErrnoException).code !== undefined || err instanceof UsageError) return err;
  return new UsageError(`${flag} ${err.message}`);
}

/** The VAE decoder of --vae (a diffusers folder or a .safetensors file) and --vae-config. */
export async function openVae(
  backend: Backend,
  path: string,
  opts: {
    configPath?: string;
    latentSize?: number | readonly [number, number];
    providers: readonly ExecutionProvider[];
  },
): Promise<VaeDecoder> {
  await requireFile(path, "--vae", "any");
  let configPath = opts.configPath;
  if ((await stat(path)).isDirectory()) {
    const weights = join(path, DIFFUSERS_VAE_WEIGHTS);
    await requireFile(weights, `--vae ${path}: expected ${DIFFUSERS_VAE_WEIGHTS} in the folder;`);
    configPath ??= join(path, "config.json");
  }
  if (configPath) await requireFile(configPath, "--vae-config");
  try {
    return await openVaeFile(backend, path, { ...opts, configPath });
  } catch (e) {
    throw inputError(e, "--vae");
  }
}

export interface OpenedPipeline {
  pipeline: FlowTurboPipeline;
  /** The base model's file name. */
  file: string;
  vae?: VaeDecoder;
  release(): Promise<void>;
}

/**
 * --base/--refiner (and --vae for latent models when images are wanted) -> a pipeline. .onnx files are
 * loaded as they are at per-call compile levels (external data and float16 exports kept).
 */
export async function openPipeline(
  backend: Backend,
  o: {
    base: string;
    refiner?: string;
    heads?: number;
    vae?: string;
    vaeConfig?: string;
    /** Open the VAE of a latent model (false: latents only). */
    images: boolean;
    providers: readonly ExecutionProvider[];
    keepSessions?: number;
  },
): Promise<OpenedPipeline> {
  const base = await readCheckpoint(o.base, "--base", o.heads, "sit");
  const refiner = o.refiner ? await readCheckpoint(o.refiner, "--refiner", o.heads, "refiner") : undefined;
  const latent = base.config.keepChannels !== 3;
  if (latent && o.images && !o.vae)
    throw new UsageError(
      `${basename(o.base)} generates ${base.config.keepChannels}-channel latents: pass --vae (a stabilityai/sd-vae-ft-ema folder) to write images, or --latents-out with --no-decode`,
    );
  const vae =
    latent && o.images && o.vae
      ? await openVae(backend, o.vae, {
          configPath: o.vaeConfig,
          latentSize: base.config.inputSize,
          providers: o.providers,
        })
      : undefined;
  let pipeline: FlowTurboPipeline;
  try {
    pipeline = await FlowTurboPipeline.open(
      backend,
      { base, refiner, vae, onnxSources: { base: o.base, refiner: o.refiner } },
      { providers: o.providers, keepSessions: o.keepSessions },
    );
  } catch (e) {
    await vae?.release();
    // the models' own metadata (classes, recommended settings) is malformed
    throw new UsageError(`--base ${(e as Error).message}`);
  }
  return {
    pipeline,
    file: base.file,
    vae,
    release: async () => {
      await pipeline.release();
      await vae?.release();
    },
  };
}
