import type { Evaluator } from "./driver";

export interface RefinerBlockResult<T> {
  x: T;
  /** Refined velocity at (x_k, t_k): passed on as the next R block's incoming v. */
  d: T;
  /** Refined velocity at the predictor point (x_k + h d, t_{k+1}). */
  dPrime: T;
}

/**
 * FlowTurbo's R block, as the official code runs it: with incoming velocity v,
 *   d  = G(x_k, t_k, v) + v
 *   x~ = x_k + h d
 *   d' = G(x~, t_{k+1}, v) + d      (the same stale v, plus the base d)
 *   x_{k+1} = x_k + h/2 (d + d')
 * 2 refiner evaluations, no base evaluation.
 */
export async function refinerBlockStep<T>(
  ev: Evaluator<T>,
  x: T,
  t0: number,
  t1: number,
  v: T,
): Promise<RefinerBlockResult<T>> {
  const { ops } = ev;
  const h = t1 - t0;
  const d = ops.lincomb([1, 1], [await ev.refine(x, t0, v), v]);
  const predictor = ops.lincomb([1, h], [x, d]);
  const dPrime = ops.lincomb([1, 1], [await ev.refine(predictor, t1, v), d]);
  return { x: ops.lincomb([1, h / 2, h / 2], [x, d, dPrime]), d, dPrime };
}
