import { CountingEvaluator, runGrid, type Stages, type StepFn } from "./driver";
import { eulerStages, eulerStep, eulerTimes } from "./euler";
import { checkGrid, uniformGrid } from "./grids";
import { heunStages, heunStep, heunTimes } from "./heun";
import { midpointStages, midpointStep, midpointTimes } from "./midpoint";
import { rk4Stages, rk4Step, rk4Times, rk38Stages, rk38Step, rk38Times } from "./rk4";
import type { CommonOptions, RequireOps, SolveResult, VelocityField } from "./types";
import type { VectorOps } from "./vectorOps";

/**
 * Fixed-step methods. "rk4" is the classic tableau; "rk4_38" is the 3/8 rule, which is what
 * torchdiffeq (and so SiT's `--sampling-method rk4`) runs under the name "rk4".
 */
export type FixedStepMethod = "euler" | "midpoint" | "heun" | "rk4" | "rk4_38";

/** Evaluations per step of each fixed-step method. */
export const EVALS_PER_STEP: Readonly<Record<FixedStepMethod, number>> = {
  euler: 1,
  midpoint: 2,
  heun: 2,
  rk4: 4,
  rk4_38: 4,
};

/** One fixed-step method: its step function, its stage machine and the times it evaluates at. */
export interface FixedStepScheme {
  step: StepFn<unknown>;
  stages: <T>(ops: VectorOps<T>, x: T, t0: number, t1: number) => Stages<T>;
  times: (t0: number, t1: number) => number[];
}

const STEPS: Readonly<Record<FixedStepMethod, FixedStepScheme>> = {
  euler: { step: eulerStep, stages: eulerStages, times: eulerTimes },
  midpoint: { step: midpointStep, stages: midpointStages, times: midpointTimes },
  heun: { step: heunStep, stages: heunStages, times: heunTimes },
  rk4: { step: rk4Step, stages: rk4Stages, times: rk4Times },
  rk4_38: { step: rk38Step, stages: rk38Stages, times: rk38Times },
};

/** The scheme of a method name, or a RangeError listing the known ones. */
export function fixedStepScheme(method: FixedStepMethod): FixedStepScheme {
  const scheme = Object.hasOwn(STEPS, method) ? STEPS[method] : undefined;
  if (!scheme) {
    throw new RangeError(`unknown method "${method}"; expected one of ${Object.keys(STEPS).join(", ")}`);
  }
  return scheme;
}

/**
 * torchdiffeq's method names (as passed to `odeint(..., method=...)`, and so to flow_matching's
 * `ODESolver.sample(method=...)` and SiT's `--sampling-method`) and what runs them here. Note that
 * torchdiffeq's "rk4" is the 3/8 rule, this package's "rk4_38"; this package's "rk4" is the classic
 * tableau, which torchdiffeq does not offer on a fixed grid.
 */
export const TORCHDIFFEQ_METHODS: Readonly<Record<string, FixedStepMethod | "dopri5">> = {
  euler: "euler",
  midpoint: "midpoint",
  heun2: "heun",
  rk4: "rk4_38",
  dopri5: "dopri5",
};

/** This package's method for a torchdiffeq method name; a RangeError for one it does not offer. */
export function fromTorchdiffeqMethod(name: string): FixedStepMethod | "dopri5" {
  const method = Object.hasOwn(TORCHDIFFEQ_METHODS, name) ? TORCHDIFFEQ_METHODS[name] : undefined;
  if (!method) {
    throw new RangeError(
      `torchdiffeq method "${name}" is not offered; supported: ${Object.keys(TORCHDIFFEQ_METHODS).join(", ")}`,
    );
  }
  return method;
}

export interface FixedStepOptions<T> extends CommonOptions<T> {
  method: FixedStepMethod;
  /**
   * Time points, one step between neighbours (e.g. `sitGrid(n)` for SiT's linspace(0, 1, n),
   * `uniformGrid(N)` for N intervals). Exactly one of `grid` and `steps` is required.
   */
  grid?: readonly number[];
  /** Shorthand for `grid: uniformGrid(steps)`. */
  steps?: number;
}

/** Integrates dx/dt = F(x, t) over a fixed grid with one of the classic explicit methods. */
export async function solveFixedStep<T>(
  velocity: VelocityField<T>,
  x0: T,
  options: FixedStepOptions<T> & RequireOps<T>,
): Promise<SolveResult<T>> {
  const step = fixedStepScheme(options.method).step as StepFn<T>;
  const grid = resolveGrid(options.grid, options.steps);
  const ev = new CountingEvaluator(velocity, undefined, x0, options);
  return runGrid(ev, x0, grid, () => step, options);
}

/** `grid` if given (checked), else the uniform grid of `steps` intervals. */
export function resolveGrid(
  grid: readonly number[] | undefined,
  steps: number | undefined,
): readonly number[] {
  if (grid !== undefined && steps !== undefined) throw new RangeError("give `grid` or `steps`, not both");
  if (grid !== undefined) {
    checkGrid(grid);
    return grid;
  }
  if (steps === undefined) throw new RangeError("a time grid is required: give `grid` or `steps`");
  return uniformGrid(steps);
}
