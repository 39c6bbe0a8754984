import type { RefinerField, VelocityField } from "./types";
import { defaultOpsFor, type GuidanceOps } from "./vectorOps";

/** Which output channels get guidance: 'sit' = channels 0..2 (SiT/DiT/FlowTurbo), 'all', or a list. */
export type GuidedChannels = "sit" | "all" | readonly number[];

/**
 * Classifier-free guidance on a doubled batch x = cat[z, z] of shape [2B, C, ...], with the model
 * seeing labels cat[labels, null] (the model closure supplies them).
 */
export interface GuidanceOptions<T> {
  /** Guidance scale s in u + s*(c - u). */
  scale: number;
  /** Layout of the doubled batch, [2B, C, ...spatial]. */
  shape: readonly number[];
  /** Default 'sit' (channels 0..2; the rest keep each half's own value). 'all' is standard CFG. */
  channels?: GuidedChannels;
  /**
   * Guide only for t in [lo, hi] (inclusive). Outside it the guided channels of both halves take
   * the conditional (first-half) output, i.e. scale 1; the model is still called on the doubled
   * batch, so NFE counts do not change.
   */
  interval?: readonly [number, number];
  /** Batch ops for T. Default: built-in ops for Float32Array / Float64Array. */
  ops?: GuidanceOps<T>;
}

/** The channel indices that `channels` names for C channels. */
export function resolveChannels(channels: GuidedChannels | undefined, numChannels: number): number[] {
  if (channels === undefined || channels === "sit") {
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

function prepare<T>(options: GuidanceOptions<T>) {
  const { scale, shape, interval } = options;
  if (!Number.isFinite(scale)) throw new RangeError(`guidance scale must be finite, got ${scale}`);
  const channels = resolveChannels(options.channels, shape[1]);
  const scaleAt = (t: number) => (!interval || (t >= interval[0] && t <= interval[1]) ? scale : 1);
  const opsFor = (x: T) => options.ops ?? defaultOpsFor(x, "guidance.ops");
  return { shape, channels, scaleAt, opsFor };
}

/**
 * Wraps a model that takes the doubled batch into a guided VelocityField: every call duplicates
 * the first half of x over both halves, calls the model once, and combines the halves.
 */
export function guidedVelocity<T>(model: VelocityField<T>, options: GuidanceOptions<T>): VelocityField<T> {
  const { shape, channels, scaleAt, opsFor } = prepare(options);
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
export function guidedRefiner<T>(refiner: RefinerField<T>, options: GuidanceOptions<T>): RefinerField<T> {
  const { shape, channels, scaleAt, opsFor } = prepare(options);
  return async (x, t, v, ctx) => {
    const ops = opsFor(x);
    const out = await refiner(ops.duplicateFirstHalf(x, shape), t, v, ctx);
    return ops.guide(out, scaleAt(t), channels, shape);
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
