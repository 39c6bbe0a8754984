import type { Evaluator } from "./driver";

/** A Heun step together with its two slopes (FlowTurbo's H and P blocks need them). */
export interface HeunResult<T> {
  x: T;
  /** Slope used at (x0, t0). */
  d0: T;
  /** Slope at the predictor point (x0 + h d0, t1). */
  d1: T;
}

/**
 * Heun (explicit trapezoid): x~ = x0 + h d0, d1 = F(x~, t1), x1 = x0 + h/2 (d0 + d1).
 * `d0` defaults to F(x0, t0); FlowTurbo's pseudo corrector passes a cached slope instead.
 */
export async function heunStepWithSlopes<T>(
  ev: Evaluator<T>,
  x: T,
  t0: number,
  t1: number,
  d0?: T,
): Promise<HeunResult<T>> {
  const h = t1 - t0;
  const slope0 = d0 ?? (await ev.velocity(x, t0));
  const predictor = ev.ops.lincomb([1, h], [x, slope0]);
  const d1 = await ev.velocity(predictor, t1);
  return { x: ev.ops.lincomb([1, h / 2, h / 2], [x, slope0, d1]), d0: slope0, d1 };
}

/** Heun's method: 2 evaluations, order 2 (also FlowTurbo's H block). */
export async function heunStep<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  return (await heunStepWithSlopes(ev, x, t0, t1)).x;
}
