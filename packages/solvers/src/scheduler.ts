import { finiteCheck, type NonFiniteSource } from "./checks";
import type { Stages } from "./driver";
import { type FixedStepMethod, type FixedStepScheme, fixedStepScheme } from "./fixedStep";
import { checkGrid, gridFromSigmas, shiftedGrid, uniformGrid } from "./grids";
import type { BuiltInState } from "./types";
import { defaultOpsFor, type VectorOps } from "./vectorOps";

export interface SchedulerOptions<T> {
  /**
   * The fixed-step method (default "euler", what diffusers' FlowMatchEulerDiscreteScheduler runs).
   * Methods with several evaluations per step ("heun", "midpoint", "rk4", "rk4_38") list every
   * evaluation in `timesteps`, as diffusers' Heun scheduler does.
   */
  method?: FixedStepMethod;
  /** Vector ops for T; default: built-in ops for Float32Array / Float64Array. */
  ops?: VectorOps<T>;
  /**
   * Check every model output for NaN and infinity (a `NonFiniteError`); default on when the ops
   * can check, `false` turns it off.
   */
  checkFinite?: boolean;
}

/** Constructor arguments: the options may be left out for Float32Array / Float64Array states; other types pass `ops`. */
export type SchedulerArgs<T> = [T] extends [BuiltInState]
  ? [options?: SchedulerOptions<T>]
  : [options: SchedulerOptions<T> & { ops: VectorOps<T> }];

/** The time grid: a number of uniform steps, explicit flow times, or a diffusers sigma schedule. */
export type TimestepSpec = number | { grid: readonly number[] } | { sigmas: readonly number[] };

export interface SchedulerStepOutput<T> {
  /**
   * The sample to give the model at the next timestep (diffusers' name); after a step's last
   * evaluation, the state at the end of the step.
   */
  prevSample: T;
}

/**
 * A stateful, scheduler-style driver for pipelines that own their loop (diffusers'
 * `set_timesteps` / `step(model_output, timestep, sample)`), in this package's flow convention
 * (t = 0 noise, t = 1 data, `modelOutput` = velocity v(x, t)):
 *
 * ```ts
 * scheduler.setTimesteps(20);
 * for (const t of scheduler.timesteps) x = scheduler.step(await model(x, t), t, x).prevSample;
 * ```
 *
 * It runs the very step code of `solveFixedStep`, so a loop over the same grid gives the same bits.
 * diffusers conventions: sigma = 1 - t (`sigmas`), diffusers timestep = 1000 * sigma, and a
 * diffusers model's output is -v (negate it first).
 */
export class FlowMatchScheduler<T = Float32Array> {
  /** The fixed-step method. */
  readonly method: FixedStepMethod;
  /** Model evaluations per step (1 for Euler, 2 for Heun and midpoint, 4 for RK4). */
  readonly order: number;
  private readonly scheme: FixedStepScheme;
  private readonly options: SchedulerOptions<T>;
  private ops: VectorOps<T> | undefined;
  private check: ((x: T, source: NonFiniteSource, t: number, step: number) => void) | undefined;
  private gridPoints: number[] = [];
  private times: number[] = [];
  private calls = 0;
  private completed = 0;
  private stages: Stages<T> | undefined;

  constructor(...[options]: SchedulerArgs<T>) {
    this.options = options ?? {};
    this.method = this.options.method ?? "euler";
    this.scheme = fixedStepScheme(this.method);
    this.order = this.scheme.times(0, 1).length;
    this.ops = this.options.ops;
  }

  /**
   * Sets the time grid and starts over: `steps` uniform steps on [0, 1] (t_k = k/steps), `{ grid }`
   * (any strictly monotone flow times) or `{ sigmas }` (a diffusers sigma schedule, 1 -> 0, as
   * t = 1 - sigma); `shift` applies diffusers' timestep shift.
   */
  setTimesteps(spec: TimestepSpec, options: { shift?: number } = {}): void {
    let grid: number[];
    if (typeof spec === "number") grid = uniformGrid(spec);
    else if ("grid" in spec) grid = [...spec.grid];
    else if ("sigmas" in spec) grid = gridFromSigmas(spec.sigmas);
    else throw new TypeError("setTimesteps needs a step count, { grid } or { sigmas }");
    if (options.shift !== undefined) grid = shiftedGrid(grid, options.shift);
    checkGrid(grid);
    this.gridPoints = grid;
    this.times = [];
    for (let k = 0; k + 1 < grid.length; k++) this.times.push(...this.scheme.times(grid[k], grid[k + 1]));
    this.reset();
  }

  /** Starts the same grid over. */
  reset(): void {
    this.calls = 0;
    this.completed = 0;
    this.stages = undefined;
  }

  /** Step boundaries (flow times). */
  get grid(): readonly number[] {
    return this.gridPoints;
  }

  /** Flow time of every model call, in order (`order` per step). */
  get timesteps(): readonly number[] {
    return this.times;
  }

  /** diffusers' sigma (1 - t) of every timestep. */
  get sigmas(): readonly number[] {
    return this.times.map((t) => 1 - t);
  }

  /** Steps completed so far. */
  get stepIndex(): number {
    return this.completed;
  }

  /** Model outputs consumed so far (network evaluations). */
  get nfe(): number {
    return this.calls;
  }

  /** Whether every timestep has been stepped. */
  get done(): boolean {
    return this.times.length > 0 && this.calls === this.times.length;
  }

  /**
   * Consumes the model output at timestep `t` (which must be `timesteps[nfe]`) for `sample` (the
   * state the model was given: the previous `prevSample`, or the initial noise).
   */
  step(modelOutput: T, t: number, sample: T): SchedulerStepOutput<T> {
    if (this.times.length === 0) throw new Error("call setTimesteps before step");
    if (this.done)
      throw new Error("every timestep has been stepped: call reset or setTimesteps to start over");
    const expected = this.times[this.calls];
    if (t !== expected) {
      throw new RangeError(`step ${this.calls} of the schedule is at t=${expected}, got t=${t}`);
    }
    if (!this.ops) this.ops = defaultOpsFor(sample);
    if (this.calls === 0) this.check = finiteCheck(this.ops, this.options.checkFinite);
    this.check?.(modelOutput, "model output", t, this.completed);
    if (!this.stages) {
      const k = this.completed;
      this.stages = this.scheme.stages(this.ops, sample, this.gridPoints[k], this.gridPoints[k + 1]);
      this.stages.next(); // the first evaluation is at (sample, t): the model output given here
    }
    const r = this.stages.next(modelOutput);
    this.calls++;
    if (r.done) {
      this.stages = undefined;
      this.completed++;
      return { prevSample: r.value };
    }
    return { prevSample: r.value.x };
  }
}
