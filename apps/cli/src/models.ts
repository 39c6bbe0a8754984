// Opening model files for commands: a checkpoint or converted ONNX path -> checked checkpoint -> sessions
// at a compile level through @flowturbo/refiner's openSamplingModels (the loader the web app uses too).
import { basename } from "node:path";
import type { Backend, CompileLevel, ExecutionProvider } from "@flowturbo/core";
import {
  loadCheckpoint,
  type ModelCheckpoint,
  type ModelKind,
  openSamplingModels,
  type SamplingDefaults,
  type SamplingModels,
  samplingDefaultsOf,
} from "@flowturbo/refiner";
import { openSafetensors } from "@flowturbo/tensor";
import { fileSource } from "@flowturbo/tensor/node";
import { UsageError } from "./cli";
import { requireFile } from "./files";

/** Reads `path` (given as `flag`) and checks that it holds a `expect` model. */
export async function readCheckpoint(
  path: string,
  flag: string,
  heads: number | undefined,
  expect: ModelKind,
): Promise<ModelCheckpoint> {
  await requireFile(path, flag);
  const source = await fileSource(path);
  let ckpt: ModelCheckpoint;
  try {
    ckpt = await loadCheckpoint(source, { file: basename(path), heads });
  } finally {
    await source.close();
  }
  if (ckpt.kind !== expect)
    throw new UsageError(
      `${flag} ${basename(path)}: this is a ${ckpt.kind} checkpoint, expected a ${expect}`,
    );
  return ckpt;
}

/** The models of a command at a compile level: per-call sessions (none/model) and/or block sessions. */
export interface CompiledModels extends SamplingModels {
  /** The base model's file name. */
  file: string;
}

/**
 * Opens --base/--refiner for a compile level: none/model load per-call sessions with that level's
 * graph optimization (an .onnx file is loaded as is); block compiles the H/P/R block graphs of the
 * plans for `block.batch` samples (weights uploaded once, shared by the block sessions).
 */
export async function openCompiled(
  backend: Backend,
  opts: {
    base: string;
    refiner?: string;
    heads?: number;
    providers: readonly ExecutionProvider[];
    level: CompileLevel;
    /** Also load per-call sessions in block mode (e.g. for a reference solve); their level is "model". */
    perCall?: boolean;
    block?: { batch: number; guided: boolean; plans: readonly string[] };
  },
): Promise<CompiledModels> {
  const base = await readCheckpoint(opts.base, "--base", opts.heads, "sit");
  const refiner = opts.refiner
    ? await readCheckpoint(opts.refiner, "--refiner", opts.heads, "refiner")
    : undefined;
  const models = await openSamplingModels(backend, {
    base,
    refiner,
    level: opts.level,
    providers: opts.providers,
    onnxSources: { base: opts.base, refiner: opts.refiner },
    perCall: opts.perCall,
    block: opts.block,
  });
  return Object.assign(models, { file: base.file });
}

/**
 * The recommended sampling settings recorded in a model file (safetensors "flowturbo.sampling"
 * metadata; {} for other formats or files without them). Only the header is read.
 */
export async function modelSamplingDefaults(path: string, flag = "--base"): Promise<SamplingDefaults> {
  if (!path.toLowerCase().endsWith(".safetensors")) return {};
  await requireFile(path, flag);
  const source = await fileSource(path);
  try {
    const file = await openSafetensors(source, { name: basename(path) });
    return samplingDefaultsOf(file.metadata, basename(path));
  } catch (e) {
    throw new UsageError((e as Error).message);
  } finally {
    await source.close();
  }
}
