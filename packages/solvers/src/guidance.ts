import type {
  GuidanceOptions,
  GuidedChannels,
  RefinerField,
  RequireGuidanceOps,
  RequireOps,
  VelocityField,
} from "./types";
import { type CfgOps, defaultOpsFor } from "./vectorOps";

/**
 * The channel indices that `channels` names for C channels. `channels` is required: there is no
 * default, because SiT's 3-of-4-channel rule is wrong for other models and standard CFG is wrong
 * for SiT weights.
 */
export function resolveChannels(channels: GuidedChannels, numChannels: number): number[] {
  if (channels === undefined) {
    throw new TypeError(
      "guidance channels are required: 'all' for standard classifier-free guidance, 'sit' for " +
        "SiT/DiT/FlowTurbo latents (channels 0..2 of 4), or a list of channel indices",
    );
  }
  if (channels === "sit") {
    if (numChannels < 3) throw new RangeError(`'sit' guidance needs >= 3 channels, got ${numChannels}`);
    return [0, 1, 2];
  }
  if (channels === "all") return Array.from({ length: numChannels }, (_, i) => i);
  for (const c of channels) {
    if (!Number.isInteger(c) || c < 0 || c >= numChannels) {
      throw new RangeError(`guided channel ${c} out of range for ${numChannels} channels`);
    }
  }
  return [...channels];
}

function scaleSchedule(scale: number, interval: readonly [number, number] | undefined) {
  if (!Number.isFinite(scale)) throw new RangeError(`guidance scale must be finite, got ${scale}`);
  return (t: number) => (!interval || (t >= interval[0] && t <= interval[1]) ? scale : 1);
}

function prepare<T>(options: GuidanceOptions<T>) {
  const { shape, interval } = options;
  const scaleAt = scaleSchedule(options.scale, interval);
  const channels = resolveChannels(options.channels, shape[1]);
  const opsFor = (x: T) => options.ops ?? defaultOpsFor(x, "guidance.ops");
  return { shape, channels, scaleAt, opsFor };
}

/**
 * Wraps a model that takes the doubled batch into a guided VelocityField on the doubled state
 * (SiT's layout, conditional half first): every call duplicates the first half of x over both
 * halves, calls the model once, and combines the halves.
 */
export function guidedVelocity<T>(
  model: VelocityField<T>,
  options: GuidanceOptions<T> & RequireGuidanceOps<T>,
): VelocityField<T> {
  const { shape, channels, scaleAt, opsFor } = prepare<T>(options);
  return async (x, t, ctx) => {
    const ops = opsFor(x);
    const out = await model(ops.duplicateFirstHalf(x, shape), t, ctx);
    return ops.guide(out, scaleAt(t), channels, shape);
  };
}

/**
 * Wraps a refiner the same way: x is duplicated, v is passed as is (each half keeps its own v),
 * and guidance is applied to the delta-v output.
 */
export function guidedRefiner<T>(
  refiner: RefinerField<T>,
  options: GuidanceOptions<T> & RequireGuidanceOps<T>,
): RefinerField<T> {
  const { shape, channels, scaleAt, opsFor } = prepare<T>(options);
  return async (x, t, v, ctx) => {
    const ops = opsFor(x);
    const out = await refiner(ops.duplicateFirstHalf(x, shape), t, v, ctx);
    return ops.guide(out, scaleAt(t), channels, shape);
  };
}

/** Row order of the doubled batch a guided model sees: SiT/DiT put the conditional rows first, diffusers the unconditional ones. */
export type GuidanceBatchOrder = "conditional-first" | "unconditional-first";

/** Options of `classifierFreeGuidance`. */
export interface ClassifierFreeGuidanceOptions<T> {
  /** Guidance scale s in u + s*(c - u); 1 returns the conditional velocity. */
  scale: number;
  /** Layout of the state x (one row per sample, not doubled): [B, C, ...spatial]. */
  shape: readonly number[];
  /**
   * Required: 'all' (standard CFG), 'sit' (channels 0..2 only; the other channels take the
   * conditional velocity), or a list of channels.
   */
  channels: GuidedChannels;
  /**
   * Batched model only: which half of the 2B rows it sees is conditional. Default
   * "conditional-first" (SiT/DiT); diffusers pipelines use "unconditional-first"
   * (`noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)`).
   */
  order?: GuidanceBatchOrder;
  /** Guide only for t in [lo, hi] (inclusive); elsewhere the velocity is the conditional one (scale 1). */
  interval?: readonly [number, number];
  /** Batch ops for T. Default: built-in ops for Float32Array / Float64Array. */
  ops?: CfgOps<T>;
}

/** A conditional and an unconditional velocity field on the same undoubled state. */
export interface GuidancePair<T> {
  conditional: VelocityField<T>;
  unconditional: VelocityField<T>;
}

/**
 * Classifier-free guidance as a velocity-field wrapper on an undoubled state x of shape [B, C, ...]:
 * the result is a VelocityField any solver (or the scheduler) integrates directly, no doubled state.
 *
 * - `model` (a function): one call per evaluation on the doubled batch cat[x, x] (2B rows, the
 *   caller's closure supplies the labels in the batch `order`), split into conditional c and
 *   unconditional u halves.
 * - `{ conditional, unconditional }`: two calls per evaluation on x itself.
 *
 * Returns u + s*(c - u) on the guided channels and c on the others. With "sit" channels and a
 * batched model this is the first half of SiT's doubled-batch guidance (`guidedVelocity`) exactly,
 * for every solver but FlowTurbo's refiner blocks (whose halves keep separate incoming velocities).
 */
export function classifierFreeGuidance<T>(
  model: VelocityField<T> | GuidancePair<T>,
  options: ClassifierFreeGuidanceOptions<T> & RequireOps<T, CfgOps<T>>,
): VelocityField<T> {
  const { shape } = options;
  const scaleAt = scaleSchedule(options.scale, options.interval);
  const channels = resolveChannels(options.channels, shape[1]);
  const order = options.order ?? "conditional-first";
  if (order !== "conditional-first" && order !== "unconditional-first") {
    throw new RangeError(
      `guidance order must be "conditional-first" or "unconditional-first", got "${order}"`,
    );
  }
  const opsFor = (x: T): CfgOps<T> => options.ops ?? defaultOpsFor(x, "guidance ops");
  if (typeof model === "function") {
    return async (x, t, ctx) => {
      const ops = opsFor(x);
      const out = await model(ops.repeatBatch(x, shape), t, ctx);
      const [first, second] = ops.splitBatch(out, shape);
      const [c, u] = order === "conditional-first" ? [first, second] : [second, first];
      return ops.combineGuided(c, u, scaleAt(t), channels, shape);
    };
  }
  const { conditional, unconditional } = model;
  if (typeof conditional !== "function" || typeof unconditional !== "function") {
    throw new TypeError("classifierFreeGuidance needs a model or { conditional, unconditional } fields");
  }
  return async (x, t, ctx) => {
    const c = await conditional(x, t, ctx);
    const u = await unconditional(x, t, ctx);
    return opsFor(x).combineGuided(c, u, scaleAt(t), channels, shape);
  };
}

type FloatArray = Float32Array | Float64Array;

/** cat[z, z] for a typed array: the initial doubled-batch state for CFG sampling. */
export function doubleBatch<A extends FloatArray>(z: A): A {
  const out = new (z.constructor as new (n: number) => A)(2 * z.length);
  out.set(z, 0);
  out.set(z, z.length);
  return out;
}

/** The first half of a doubled typed-array batch (the samples), as a copy. */
export function firstHalf<A extends FloatArray>(x: A): A {
  if (x.length % 2 !== 0) throw new RangeError(`firstHalf needs an even length, got ${x.length}`);
  return x.slice(0, x.length / 2) as A;
}
