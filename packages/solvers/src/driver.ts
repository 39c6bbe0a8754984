import { finiteCheck, type NonFiniteSource, throwIfAborted } from "./checks";
import { guidedRefiner, guidedVelocity } from "./guidance";
import type {
  AbortSignalLike,
  BlockKind,
  CommonOptions,
  EvalContext,
  NfeCounts,
  RefinerField,
  SolveResult,
  VelocityField,
} from "./types";
import { defaultOpsFor, type VectorOps } from "./vectorOps";

/**
 * What step functions see: counted, abortable network calls and the vector ops. Step functions
 * are pure apart from these calls.
 */
export interface Evaluator<T> {
  readonly ops: VectorOps<T>;
  /** Base velocity F(x, t) (guided when guidance is on). Counts one base NFE. */
  velocity(x: T, t: number): Promise<T>;
  /** Refiner output G(x, t, v) = delta v (guided when guidance is on). Counts one refiner NFE. */
  refine(x: T, t: number, v: T): Promise<T>;
}

/** A step from (x, t0) to t1; returns the new state. */
export type StepFn<T> = (ev: Evaluator<T>, x: T, t0: number, t1: number) => Promise<T>;

/** Where a stage machine needs the velocity: at state `x`, time `t`. */
export interface VelocityRequest<T> {
  x: T;
  t: number;
}

/**
 * A step written as a stage machine: it yields every point where it needs the velocity, is resumed
 * with the velocity there, and returns the new state. The solvers (which call the model) and the
 * scheduler (whose caller calls the model) run the same machines, so they compute the same bits.
 */
export type Stages<T, R = T> = Generator<VelocityRequest<T>, R, T>;

/** Runs a stage machine against an evaluator's velocity. */
export async function runStages<T, R>(ev: Evaluator<T>, stages: Stages<T, R>): Promise<R> {
  let r = stages.next();
  while (!r.done) r = stages.next(await ev.velocity(r.value.x, r.value.t));
  return r.value;
}

export class CountingEvaluator<T> implements Evaluator<T> {
  readonly ops: VectorOps<T>;
  readonly nfe: NfeCounts = { base: 0, refiner: 0 };
  /** Current step index, passed to the model in its context. */
  step = 0;
  private readonly f: VelocityField<T>;
  private readonly g: RefinerField<T> | undefined;
  private readonly options: CommonOptions<T>;
  private readonly check: ((x: T, source: NonFiniteSource, t: number, step: number) => void) | undefined;

  constructor(f: VelocityField<T>, refiner: RefinerField<T> | undefined, x0: T, options: CommonOptions<T>) {
    this.ops = options.ops ?? defaultOpsFor(x0);
    this.options = options;
    const guidance = options.guidance;
    this.f = guidance ? guidedVelocity(f, guidance) : f;
    this.g = refiner && guidance ? guidedRefiner(refiner, guidance) : refiner;
    this.check = finiteCheck(this.ops, options.checkFinite);
  }

  private context(): EvalContext {
    const { signal } = this.options;
    return signal ? { step: this.step, signal } : { step: this.step };
  }

  /** Rejects with the signal's reason once the caller's signal is aborted. */
  throwIfAborted(): void {
    throwIfAborted(this.options.signal as AbortSignalLike | undefined);
  }

  /** Throws a NonFiniteError for a non-finite value when finite checks are on. */
  checkFinite(x: T, source: NonFiniteSource, t: number): void {
    this.check?.(x, source, t, this.step);
  }

  async velocity(x: T, t: number): Promise<T> {
    this.throwIfAborted();
    this.nfe.base++;
    const v = await this.f(x, t, this.context());
    this.check?.(v, "velocity", t, this.step);
    return v;
  }

  async refine(x: T, t: number, v: T): Promise<T> {
    if (!this.g) throw new Error("this solve needs a refiner (options.refiner)");
    this.throwIfAborted();
    this.nfe.refiner++;
    const dv = await this.g(x, t, v, this.context());
    this.check?.(dv, "refiner", t, this.step);
    return dv;
  }
}

/**
 * The shared driver loop over a time grid: abort checks, step indices, callbacks, trajectory.
 * `stepAt(k)` gives the step function for step k (k = 0 .. grid.length-2).
 */
export async function runGrid<T>(
  ev: CountingEvaluator<T>,
  x0: T,
  grid: readonly number[],
  stepAt: (k: number) => StepFn<T>,
  options: CommonOptions<T>,
  blockAt?: (k: number) => BlockKind,
): Promise<SolveResult<T>> {
  const { onStep } = options;
  const trajectory = options.trajectory ? [x0] : undefined;
  let x = x0;
  const steps = grid.length - 1;
  for (let k = 0; k < steps; k++) {
    ev.throwIfAborted();
    ev.step = k;
    x = await stepAt(k)(ev, x, grid[k], grid[k + 1]);
    trajectory?.push(x);
    if (onStep) {
      const info = { step: k + 1, t: grid[k + 1], x, nfe: { ...ev.nfe } };
      await onStep(blockAt ? { ...info, block: blockAt(k) } : info);
    }
  }
  return finish(x, ev, steps, trajectory);
}

export function finish<T>(x: T, ev: CountingEvaluator<T>, steps: number, trajectory?: T[]): SolveResult<T> {
  const result: SolveResult<T> = { x, nfe: { ...ev.nfe }, steps };
  if (trajectory) result.trajectory = trajectory;
  return result;
}
