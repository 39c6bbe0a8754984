import type { Evaluator } from "./driver";
import { type HeunResult, heunStepWithSlopes } from "./heun";

/**
 * FlowTurbo's P block: a Heun step whose first slope is the cached velocity at the previous
 * predictor point (not a fresh F(x_k, t_k)). Without a cache it computes the slope fresh.
 * 1 evaluation with a cache, 2 without. The new cache is the returned `d1`.
 */
export function pseudoCorrectorStep<T>(
  ev: Evaluator<T>,
  x: T,
  t0: number,
  t1: number,
  cache: T | undefined,
): Promise<HeunResult<T>> {
  return heunStepWithSlopes(ev, x, t0, t1, cache);
}
