import { type Evaluator, runStages, type Stages } from "./driver";
import type { VectorOps } from "./vectorOps";

/** A Heun step together with its two slopes (FlowTurbo's H and P blocks need them). */
export interface HeunResult<T> {
  x: T;
  /** Slope used at (x0, t0). */
  d0: T;
  /** Slope at the predictor point (x0 + h d0, t1). */
  d1: T;
}

/** Times at which a Heun step from t0 to t1 evaluates the velocity. */
export function heunTimes(t0: number, t1: number): number[] {
  return [t0, t1];
}

/**
 * Heun as a stage machine, with its slopes: x~ = x0 + h d0, d1 = F(x~, t1), x1 = x0 + h/2 (d0 + d1).
 * `d0` defaults to F(x0, t0) (one more stage); FlowTurbo's pseudo corrector passes a cached slope.
 */
export function* heunStagesWithSlopes<T>(
  ops: VectorOps<T>,
  x: T,
  t0: number,
  t1: number,
  d0?: T,
): Stages<T, HeunResult<T>> {
  const h = t1 - t0;
  const slope0 = d0 ?? (yield { x, t: t0 });
  const predictor = ops.lincomb([1, h], [x, slope0]);
  const d1 = yield { x: predictor, t: t1 };
  return { x: ops.lincomb([1, h / 2, h / 2], [x, slope0, d1]), d0: slope0, d1 };
}

/** Heun's method as a stage machine. */
export function* heunStages<T>(ops: VectorOps<T>, x: T, t0: number, t1: number): Stages<T> {
  return (yield* heunStagesWithSlopes(ops, x, t0, t1)).x;
}

/**
 * Heun (explicit trapezoid): x~ = x0 + h d0, d1 = F(x~, t1), x1 = x0 + h/2 (d0 + d1).
 * `d0` defaults to F(x0, t0); FlowTurbo's pseudo corrector passes a cached slope instead.
 */
export function heunStepWithSlopes<T>(
  ev: Evaluator<T>,
  x: T,
  t0: number,
  t1: number,
  d0?: T,
): Promise<HeunResult<T>> {
  return runStages(ev, heunStagesWithSlopes(ev.ops, x, t0, t1, d0));
}

/** Heun's method: 2 evaluations, order 2 (also FlowTurbo's H block). */
export async function heunStep<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  return (await heunStepWithSlopes(ev, x, t0, t1)).x;
}
