// Types shared by every solver (no code). It imports only vectorOps.ts, which imports nothing, so
// the package's modules form no import cycle.
import type { GuidanceOps, VectorOps } from "./vectorOps";

/**
 * What the solvers read of an abort signal: `aborted` and `reason` (a DOM or Node `AbortSignal` has
 * both). Declared here so that the types need no DOM or Node typings (`lib: ["ES2022"]`, `types: []`).
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

/**
 * The global `AbortSignal` type where the program has one (DOM or Node typings), else
 * `AbortSignalLike`. Models receive the caller's signal with this type, so they can hand it on to
 * `fetch` or an inference session unchanged.
 */
export type SolverAbortSignal = typeof globalThis extends { AbortSignal: { prototype: infer S } }
  ? S
  : AbortSignalLike;

/** What a velocity or refiner call is told besides its inputs. */
export interface EvalContext {
  /** Index of the solver step in progress (0-based). */
  readonly step: number;
  /** The caller's abort signal, for models that can cancel their own work. */
  readonly signal?: SolverAbortSignal;
}

/**
 * The flow's velocity v(x, t) under the convention x_t = t*x1 + (1-t)*x0 (t=0 noise, t=1 data).
 * May be sync or async. Must not mutate `x`; the solvers never mutate what it returns.
 */
export type VelocityField<T> = (x: T, t: number, ctx: EvalContext) => T | Promise<T>;

/** FlowTurbo's velocity refiner: returns delta v for (x, t, v); the refined velocity is delta v + v. */
export type RefinerField<T> = (x: T, t: number, v: T, ctx: EvalContext) => T | Promise<T>;

/** Network evaluations so far: base velocity calls and refiner calls (a doubled CFG batch counts once). */
export interface NfeCounts {
  base: number;
  refiner: number;
}

/** FlowTurbo block letters: Heun, pseudo corrector, refiner. */
export type BlockKind = "H" | "P" | "R";

/** Passed to `onStep` after every completed (for dopri5: accepted) step. Treat `x` as read-only. */
export interface StepInfo<T> {
  /** Steps completed so far (1 after the first step). */
  step: number;
  /** Time reached by this step. */
  t: number;
  /** State at `t`. */
  x: T;
  /** Evaluations so far, a snapshot. */
  nfe: NfeCounts;
  /** FlowTurbo only: the block that made this step. */
  block?: BlockKind;
}

export type StepCallback<T> = (info: StepInfo<T>) => void | Promise<void>;

/** State types with built-in vector ops (`float32Ops`, `float64Ops`). */
export type BuiltInState = Float32Array | Float64Array;

/**
 * `{ ops: O }` (vector ops by default) unless T is a Float32Array or Float64Array: a state of any
 * other type (a `number[]`, a device tensor) must bring its ops, and the compiler says so.
 */
export type RequireOps<T, O = VectorOps<T>> = [T] extends [BuiltInState] ? unknown : { ops: O };

/** `{ ops: GuidanceOps<T> }` unless T is a Float32Array or Float64Array (see `RequireOps`). */
export type RequireGuidanceOps<T> = RequireOps<T, GuidanceOps<T>>;

/** Which output channels get guidance: 'sit' = channels 0..2 (SiT/DiT/FlowTurbo), 'all', or a list. */
export type GuidedChannels = "sit" | "all" | readonly number[];

/**
 * Classifier-free guidance on a doubled-batch state x = cat[z, z] of shape [2B, C, ...], conditional
 * half first (SiT/DiT/FlowTurbo's layout), with the model seeing labels cat[labels, null] (the
 * model closure supplies them). See `classifierFreeGuidance` for guidance on an undoubled state.
 */
export interface GuidanceOptions<T> {
  /** Guidance scale s in u + s*(c - u). */
  scale: number;
  /** Layout of the doubled batch, [2B, C, ...spatial]. */
  shape: readonly number[];
  /**
   * Required: 'all' (standard CFG: every channel), 'sit' (channels 0..2 only: SiT/DiT/FlowTurbo's
   * rule for their 4-channel latents; the rest keep each half's own value), or a list of channels.
   */
  channels: GuidedChannels;
  /**
   * Guide only for t in [lo, hi] (inclusive). Outside it the guided channels of both halves take
   * the conditional (first-half) output, i.e. scale 1; the model is still called on the doubled
   * batch, so NFE counts do not change.
   */
  interval?: readonly [number, number];
  /** Batch ops for T. Default: built-in ops for Float32Array / Float64Array. */
  ops?: GuidanceOps<T>;
}

/** Options every solver accepts. */
export interface CommonOptions<T> {
  /**
   * Vector operations for T. Optional for Float32Array / Float64Array states (built in); required
   * (by the types, see `RequireOps`) for any other state type.
   */
  ops?: VectorOps<T>;
  /** Checked before every step and every network call; aborting rejects with `signal.reason`. */
  signal?: SolverAbortSignal;
  /** Called after every step (awaited when it returns a promise). */
  onStep?: StepCallback<T>;
  /** Keep the state after every step in `result.trajectory` (index 0 is the initial state). */
  trajectory?: boolean;
  /** Classifier-free guidance applied to the velocity (and refiner) on a doubled batch. */
  guidance?: GuidanceOptions<T> & RequireGuidanceOps<T>;
  /**
   * Check every model output (velocity, refiner, SDE noise) for NaN and infinity and reject with a
   * `NonFiniteError` naming the call, its time and step. Default: on when the ops can check
   * (`VectorOps.firstNonFinite`, which the built-in typed-array ops have); `false` turns it off;
   * `true` requires it.
   */
  checkFinite?: boolean;
}

/** What every solver returns. */
export interface SolveResult<T> {
  /** Final state. */
  x: T;
  /** Network evaluations, base and refiner separately. */
  nfe: NfeCounts;
  /** Steps taken (for dopri5: accepted steps). */
  steps: number;
  /** States after every step, initial state first; only with `trajectory: true`. */
  trajectory?: T[];
}
