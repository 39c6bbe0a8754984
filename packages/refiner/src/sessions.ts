// Loaded checkpoints -> the sessions sampling runs on, at a compile level. Shared by the CLI and the web
// app so both sample through the same graphs: per-call SiT / refiner sessions ("none", "model") and/or
// the H/P/R block sessions ("block").
import {
  type Backend,
  type CompileLevel,
  compileSessionOptions,
  type ExecutionProvider,
  type ModelSource,
  type Session,
} from "@flowturbo/core";
import { blockWeights, type CompiledBlocks, compileBlocks } from "./blocks";
import type { ModelCheckpoint } from "./checkpoint";
import type { SiTConfig } from "./config";
import { refinerGraph, sitGraph } from "./sit";

export interface OpenSamplingOptions {
  base: ModelCheckpoint;
  refiner?: ModelCheckpoint;
  level: CompileLevel;
  /** Providers in order of preference (default: the backend's). */
  providers?: readonly ExecutionProvider[];
  /**
   * How to load an .onnx checkpoint as is (a path in Node, a URL or the bytes in browsers) instead of
   * rebuilding its graph from the config: keeps external data and a float16 export as they are.
   */
  onnxSources?: { base?: ModelSource; refiner?: ModelSource };
  /** Also load per-call sessions at level "block" (e.g. for a reference solve); they use level "model". */
  perCall?: boolean;
  /** Level "block": samples per batch, guidance compiled in or not, and the plans to serve. */
  block?: { batch: number; guided: boolean; plans: readonly string[] };
}

export interface SamplingModels {
  level: CompileLevel;
  config: SiTConfig;
  /** Class names recorded in the base model file ("classes" metadata), if any. */
  classNames?: string[];
  /** Per-call sessions (levels none/model, or `perCall`). */
  base?: Session;
  refiner?: Session;
  /** Block sessions (level block). */
  blocks?: CompiledBlocks;
  /** The provider that runs the model (after any fallback). */
  provider: ExecutionProvider;
  /** Why the first requested provider was not used, when the backend reports it (onnxruntime-web does). */
  fallbackReason?: string;
  release(): Promise<void>;
}

/** Class names recorded in a checkpoint's "classes" metadata (a JSON list of strings), if any. */
export function checkpointClassNames(ckpt: ModelCheckpoint): string[] | undefined {
  const raw = ckpt.metadata?.classes;
  if (!raw) return undefined;
  let names: unknown;
  try {
    names = JSON.parse(raw);
  } catch {
    throw new Error(`${ckpt.file}: metadata 'classes' is not JSON (expected a list of class names)`);
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string"))
    throw new Error(`${ckpt.file}: metadata 'classes' must be a JSON list of strings`);
  if (names.length !== ckpt.config.numClasses)
    throw new Error(
      `${ckpt.file}: metadata 'classes' lists ${names.length} names, the model has ${ckpt.config.numClasses} classes`,
    );
  return names as string[];
}

/** Opens the sessions of a base model (and refiner) for sampling at `opts.level`. */
export async function openSamplingModels(
  backend: Backend,
  opts: OpenSamplingOptions,
): Promise<SamplingModels> {
  const { base, refiner, level } = opts;
  if (base.kind !== "sit") throw new Error(`${base.file}: this is a ${base.kind} checkpoint, expected a sit`);
  if (refiner && refiner.kind !== "refiner")
    throw new Error(`${refiner.file}: this is a ${refiner.kind} checkpoint, expected a refiner`);
  const loaded: { release(): Promise<void> }[] = [];
  const release = async () => {
    for (const s of loaded.reverse()) await s.release();
  };
  try {
    let main: Session | undefined;
    const out: SamplingModels = {
      level,
      config: base.config,
      classNames: checkpointClassNames(base),
      provider: "cpu",
      release,
    };
    if (level !== "block" || opts.perCall) {
      const so = {
        providers: opts.providers,
        ...compileSessionOptions(level === "none" ? "none" : "model"),
      };
      const open = async (ckpt: ModelCheckpoint, source: ModelSource | undefined) => {
        const s = await backend.load(
          ckpt.format === "onnx" && source !== undefined
            ? source
            : {
                graph: ckpt.kind === "refiner" ? refinerGraph(ckpt.config) : sitGraph(ckpt.config),
                weights: ckpt.weights,
              },
          so,
        );
        loaded.push(s);
        return s;
      };
      out.base = await open(base, opts.onnxSources?.base);
      if (refiner) out.refiner = await open(refiner, opts.onnxSources?.refiner);
      main = out.base;
    }
    if (level === "block") {
      if (!opts.block) throw new Error("openSamplingModels: level 'block' needs block.batch and block.plans");
      const blocks = await compileBlocks(backend, {
        base: base.config,
        refiner: refiner?.config,
        batch: opts.block.batch,
        guidance: opts.block.guided ? { channels: "sit" } : undefined,
        weights: blockWeights(base.weights, refiner?.weights),
        plans: opts.block.plans,
        session: { providers: opts.providers },
      });
      loaded.push(blocks);
      out.blocks = blocks;
      main = blocks.sessions.H ?? blocks.sessions.P ?? blocks.sessions.R;
    }
    if (main) {
      out.provider = main.provider;
      const reason = (main as { fallbackReason?: string }).fallbackReason;
      if (reason) out.fallbackReason = reason;
    }
    return out;
  } catch (e) {
    await release();
    throw e;
  }
}
