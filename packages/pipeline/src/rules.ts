// Every rule of a sampling request, in one place: which compile levels a method can run at, when a
// refiner is required, the guidance range and the channels it applies to, and the size limits.
import type { GuidedChannels } from "@flowturbo/solvers";
import type { Backend, ExecutionProvider, SessionOptions } from "@flowturbo/core";
import type { GraphForm } from "@flowturbo/tensor";
import { blockPlanOf, methodLabel, methodName, type SamplingMethod, usesRefiner } from "./method";

/**
 * How model calls are executed:
 * - "none": one session per network (SiT, refiner), called once per evaluation, the ONNX graph run as
 *   emitted (ORT graph optimization "disabled": no constant folding, no fusions) - the eager baseline.
 * - "model": the same per-call sessions with every ORT graph optimization ("all": constant folding,
 *   fusions, layout transforms) - model-level compilation.
 * - "block": one static-shape session per block kind (H, P, R) holding both network calls of the
 *   block, the guidance and the update, optimization "all", state kept on the device between blocks
 *   (FlowTurbo's sample-aware compilation). Plans and Heun only.
 */
export type CompileLevel = "none" | "model" | "block";
export const COMPILE_LEVELS: readonly CompileLevel[] = ["none", "model", "block"];

/** Session options of a compile level (the ORT graph optimization level, see CompileLevel). */
export function compileSessionOptions(level: CompileLevel): Pick<SessionOptions, "optimization"> {
  return { optimization: level === "none" ? "disabled" : "all" };
}

/**
 * The graph form of networks run on these providers (the first one runs them), as the backend says: its
 * form for that provider (the ONNX Runtime adapters: plain on WebGPU, core's ortGraphForm), else its
 * graphForm, else plain.
 */
export function graphFormFor(
  backend: Pick<Backend, "graphForm" | "graphFormOn">,
  providers: readonly ExecutionProvider[] | undefined,
): GraphForm {
  const first = providers?.[0];
  return (first && backend.graphFormOn?.(first)) ?? backend.graphForm ?? "plain";
}

/** The default level of a method: "block" where its blocks can be compiled (plans, Heun), else "model". */
export function defaultCompileLevel(m: SamplingMethod): CompileLevel {
  return blockPlanOf(m) ? "block" : "model";
}

/** Guidance scales above this are refused (samples saturate long before; SiT uses 1.5 to 4). */
export const MAX_CFG = 100;
/** Samples per request and per batch: beyond these a run is surely a typo (and memory runs out). */
export const MAX_SAMPLES = 1_000_000;
export const MAX_BATCH = 4096;

/** The most samples per request and per batch a caller accepts. */
export interface RequestLimits {
  samples: number;
  batch: number;
}
/** Batch jobs (the CLI, sharded runs): MAX_SAMPLES and MAX_BATCH. */
export const DEFAULT_LIMITS: Readonly<RequestLimits> = Object.freeze({
  samples: MAX_SAMPLES,
  batch: MAX_BATCH,
});
/**
 * Interactive callers (the web page): every sample of a run is drawn and held in the page's memory, so
 * at most 64 per run (and per batch); more is a typo there, and a batch job's work.
 */
export const INTERACTIVE_LIMITS: Readonly<RequestLimits> = Object.freeze({ samples: 64, batch: 64 });

/** Classifier-free guidance runs (doubled batch) exactly when the scale is not 1. */
export function isGuided(cfg: number): boolean {
  return cfg !== 1;
}

/**
 * The channels guidance applies to for SiT-family weights: "sit" (channels 0..2, as SiT, DiT and
 * FlowTurbo do; the rest keep each half's own value). Standard all-channel CFG is an explicit choice.
 */
export const SIT_GUIDED_CHANNELS: GuidedChannels = "sit";

/** A request field that breaks a rule, with the message for the user. */
export interface Problem {
  field: "method" | "compile" | "cfg" | "samples" | "labels" | "batch" | "refiner" | "vae" | "seed" | "noise";
  message: string;
}

export interface RuleInput {
  method: SamplingMethod;
  compile: CompileLevel;
  cfg: number;
  seed: number;
  /** Number of samples. */
  samples: number;
  batch: number;
  /** Class of each sample (checked against the model's classes). */
  labels?: readonly number[];
}

export interface ModelFacts {
  numClasses: number;
  hasRefiner: boolean;
  /** Class names, for messages. */
  classNames?: readonly string[];
}

/** "got 7", or for NaN (an empty or non-numeric field) "it is empty or not a number". */
function got(v: number): string {
  return Number.isNaN(v) ? "it is empty or not a number" : `got ${v}`;
}

/** Index of the first value that is NaN or infinite, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/**
 * The rules of given starting noise: one value per sample element (`samples` x `perSample`), all finite
 * (NaN noise would give NaN samples, written as black images).
 */
export function checkNoise(noise: ArrayLike<number>, samples: number, perSample: number): Problem[] {
  if (noise.length !== samples * perSample)
    return [
      {
        field: "noise",
        message: `the noise has ${noise.length} values, expected ${samples} samples x ${perSample} = ${samples * perSample}`,
      },
    ];
  const bad = firstNonFinite(noise);
  if (bad >= 0)
    return [
      {
        field: "noise",
        message: `the noise is not finite: value ${bad} (sample ${Math.floor(bad / perSample)}) is ${noise[bad]}`,
      },
    ];
  return [];
}

/**
 * Every rule a request breaks (empty when it can run). Without `model` only the rules that need no model
 * (method x compile level, guidance, seed, batch, sample count): callers check those before loading one.
 * `limits`: the caller's sample and batch limits (default: DEFAULT_LIMITS; pages: INTERACTIVE_LIMITS).
 */
export function checkRequest(
  r: RuleInput,
  model?: ModelFacts,
  limits: Readonly<RequestLimits> = DEFAULT_LIMITS,
): Problem[] {
  const problems: Problem[] = [];
  if (r.compile === "block" && !blockPlanOf(r.method))
    problems.push({
      field: "compile",
      message: `compile "block" runs FlowTurbo plans and Heun, not '${methodName(r.method)}': use "model" (or "none")`,
    });
  if (model && usesRefiner(r.method) && !model.hasRefiner)
    problems.push({
      field: "refiner",
      message: `${methodLabel(r.method)} has refiner (R) steps but no refiner model was given: give one, or use a plan without R`,
    });
  if (!Number.isFinite(r.cfg) || r.cfg < 0 || r.cfg > MAX_CFG)
    problems.push({
      field: "cfg",
      message: `guidance scale must be a number in 0..${MAX_CFG} (1 = no guidance), ${got(r.cfg)}`,
    });
  if (!Number.isSafeInteger(r.seed) || r.seed < 0)
    problems.push({
      field: "seed",
      message: `seed must be an integer in 0..${Number.MAX_SAFE_INTEGER}, ${got(r.seed)}`,
    });
  if (!Number.isInteger(r.samples) || r.samples < 1 || r.samples > limits.samples)
    problems.push({
      field: "samples",
      message: `the number of samples must be in 1..${limits.samples}, ${got(r.samples)}`,
    });
  const bad = model && r.labels?.find((c) => !Number.isInteger(c) || c < 0 || c >= model.numClasses);
  if (model && bad !== undefined)
    problems.push({
      field: "labels",
      message: `class ${bad} is not a class of this model (0..${model.numClasses - 1})`,
    });
  if (!Number.isInteger(r.batch) || r.batch < 1 || r.batch > limits.batch)
    problems.push({
      field: "batch",
      message: `batch must be an integer in 1..${limits.batch}, ${got(r.batch)}`,
    });
  return problems;
}
