import { CountingEvaluator, runGrid, type StepFn } from "./driver";
import { checkGrid, uniformGrid } from "./grids";
import { heunStepWithSlopes } from "./heun";
import { type Plan, type PlanCounts, toPlan } from "./plan";
import { pseudoCorrectorStep } from "./pseudoCorrector";
import { refinerBlockStep } from "./refinerBlock";
import type { CommonOptions, RefinerField, RequireOps, SolveResult, VelocityField } from "./types";

export interface FlowTurboOptions<T> extends CommonOptions<T> {
  /** "H{a}P{b}R{c}", any order of runs ("P5H7R3"), a parsed Plan, or {heun, pseudo, refine}. */
  plan: string | Plan | PlanCounts;
  /** The velocity refiner G(x, t, v) -> delta v; required when the plan has R blocks. */
  refiner?: RefinerField<T>;
  /** Time grid with plan.steps + 1 points (default: t_k = k/N, FlowTurbo's). */
  grid?: readonly number[];
}

export interface FlowTurboResult<T> extends SolveResult<T> {
  plan: Plan;
}

/**
 * FlowTurbo's sampler: one block per interval of the grid, in plan order.
 *   H: Heun from scratch (2 base evals); cache = slope at the predictor point.
 *   P: Heun with the cache as first slope (1 base eval; 2 if there is no cache yet); cache = new predictor slope.
 *   R: refiner block (2 refiner evals) with incoming v = the cache after H/P, or the previous R block's d.
 * After an R block a later P uses the R block's predictor slope d' as its cache (only reachable with
 * free block orders; the official code always runs H, then P, then R).
 * Under CFG the state is the doubled batch cat[z, z]; take the first half of `x` at the end.
 */
export async function sampleFlowTurbo<T>(
  velocity: VelocityField<T>,
  x0: T,
  options: FlowTurboOptions<T> & RequireOps<T>,
): Promise<FlowTurboResult<T>> {
  const plan = toPlan(options.plan);
  if (plan.counts.R > 0 && !options.refiner) {
    throw new TypeError(`plan has ${plan.counts.R} refiner steps but no refiner was given (options.refiner)`);
  }
  const grid = options.grid ?? uniformGrid(plan.steps);
  checkGrid(grid);
  if (grid.length !== plan.steps + 1) {
    throw new RangeError(`grid has ${grid.length} points, plan needs ${plan.steps + 1}`);
  }
  const ev = new CountingEvaluator(velocity, options.refiner, x0, options);

  // cache: base slope at the last predictor point (for P); v: incoming velocity for R.
  let cache: T | undefined;
  let v: T | undefined;
  const heun: StepFn<T> = async (e, x, t0, t1) => {
    const r = await heunStepWithSlopes(e, x, t0, t1);
    cache = v = r.d1;
    return r.x;
  };
  const pseudo: StepFn<T> = async (e, x, t0, t1) => {
    const r = await pseudoCorrectorStep(e, x, t0, t1, cache);
    cache = v = r.d1;
    return r.x;
  };
  const refine: StepFn<T> = async (e, x, t0, t1) => {
    if (v === undefined) throw new Error("refiner block without an incoming velocity");
    const r = await refinerBlockStep(e, x, t0, t1, v);
    v = r.d;
    cache = r.dPrime;
    return r.x;
  };
  const byKind = { H: heun, P: pseudo, R: refine };
  const result = await runGrid(
    ev,
    x0,
    grid,
    (k) => byKind[plan.blocks[k]],
    options,
    (k) => plan.blocks[k],
  );
  return { ...result, plan };
}
