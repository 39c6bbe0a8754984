// Checked checkpoints -> the sessions sampling runs on, at a compile level: per-call SiT / refiner
// sessions ("none", "model") and/or the H/P/R block sessions ("block").
import type { Backend, ExecutionProvider, ModelSource, Session, SessionOptions } from "@flowturbo/core";
import type { ModelCheckpoint, SiTConfig } from "@flowturbo/sit";
import type { Plan } from "@flowturbo/solvers";
import type { GraphForm } from "@flowturbo/tensor";
import { blockWeights, type CompiledBlocks, compileBlocks } from "./blocks/graphs";
import { checkpointClassNames, ModelKindError, modelGraph } from "./models";
import { type CompileLevel, compileSessionOptions, graphFormFor, SIT_GUIDED_CHANNELS } from "./rules";

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
  block?: { batch: number; guided: boolean; plans: readonly Plan[] };
  /** Graph form of the networks built from checkpoints (default: graphFormFor(backend, providers)). */
  form?: GraphForm;
  /** Level "block": how the block sessions hold the weights (CompileBlocksOptions.weightMode; default "shared"). */
  weightMode?: "shared" | "initializers";
  /**
   * ONNX Runtime graph optimization of the compiled levels ("model", "block"; default "all", see
   * compileSessionOptions). "basic" suits graphs already in the fused form on ORT-web's WASM: the same run
   * speed, and less of ORT's optimizer code to compile and run on a cold page (faster session creation).
   */
  optimization?: SessionOptions["optimization"];
  /**
   * Level "block": build no H graph; H blocks run as two runs of the P graph (the first with t1 = t0 and a
   * zero cache computes d = F(x, t0)). One session fewer to build, load and warm up (a fresh browser page
   * waits for each), one session run more per H block; the same operations, so the same samples.
   */
  heunAsP?: boolean;
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

/** Opens the sessions of a base model (and refiner) for sampling at `opts.level`. */
export async function openSamplingModels(
  backend: Backend,
  opts: OpenSamplingOptions,
): Promise<SamplingModels> {
  const { base, refiner, level } = opts;
  if (base.kind !== "sit") throw new ModelKindError(base.file, base.kind, "sit");
  if (refiner && refiner.kind !== "refiner") throw new ModelKindError(refiner.file, refiner.kind, "refiner");
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
    const form = opts.form ?? graphFormFor(backend, opts.providers);
    const optimization = (l: CompileLevel) =>
      l === "none" ? compileSessionOptions(l) : { optimization: opts.optimization ?? "all" };
    if (level !== "block" || opts.perCall) {
      const so = { providers: opts.providers, ...optimization(level === "none" ? "none" : "model") };
      const open = async (ckpt: ModelCheckpoint, source: ModelSource | undefined) => {
        const s = await backend.load(
          ckpt.format === "onnx" && source !== undefined
            ? source
            : { graph: modelGraph(ckpt, { form }), weights: ckpt.weights },
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
        guidance: opts.block.guided ? { channels: SIT_GUIDED_CHANNELS } : undefined,
        weights: blockWeights(base.weights, refiner?.weights),
        plans: opts.block.plans,
        form,
        weightMode: opts.weightMode,
        heunAsP: opts.heunAsP,
        session: { providers: opts.providers, ...optimization("block") },
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
