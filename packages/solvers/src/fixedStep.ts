import { CountingEvaluator, runGrid, type StepFn } from "./driver";
import { eulerStep } from "./euler";
import { checkGrid, uniformGrid } from "./grids";
import { heunStep } from "./heun";
import { midpointStep } from "./midpoint";
import { rk4Step, rk38Step } from "./rk4";
import type { CommonOptions, SolveResult, VelocityField } from "./types";

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

const STEPS: Readonly<Record<FixedStepMethod, StepFn<unknown>>> = {
  euler: eulerStep,
  midpoint: midpointStep,
  heun: heunStep,
  rk4: rk4Step,
  rk4_38: rk38Step,
};

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
  options: FixedStepOptions<T>,
): Promise<SolveResult<T>> {
  const step = STEPS[options.method] as StepFn<T> | undefined;
  if (!step) {
    throw new RangeError(
      `unknown method "${options.method}"; expected one of ${Object.keys(STEPS).join(", ")}`,
    );
  }
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
