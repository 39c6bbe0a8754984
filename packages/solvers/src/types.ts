import type { GuidanceOptions } from "./guidance";
import type { VectorOps } from "./vectorOps";

/** What a velocity or refiner call is told besides its inputs. */
export interface EvalContext {
  /** Index of the solver step in progress (0-based). */
  readonly step: number;
  /** The caller's abort signal, for models that can cancel their own work. */
  readonly signal?: AbortSignal;
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

/** Options every solver accepts. */
export interface CommonOptions<T> {
  /** Vector operations for T. Default: built-in ops for Float32Array / Float64Array states. */
  ops?: VectorOps<T>;
  /** Checked before every step and every network call; aborting rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Called after every step (awaited when it returns a promise). */
  onStep?: StepCallback<T>;
  /** Keep the state after every step in `result.trajectory` (index 0 is the initial state). */
  trajectory?: boolean;
  /** Classifier-free guidance applied to the velocity (and refiner) on a doubled batch. */
  guidance?: GuidanceOptions<T>;
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
