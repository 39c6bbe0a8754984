import { type Evaluator, runStages, type Stages } from "./driver";
import type { VectorOps } from "./vectorOps";

/** Times at which a midpoint step from t0 to t1 evaluates the velocity. */
export function midpointTimes(t0: number, t1: number): number[] {
  return [t0, t0 + (t1 - t0) / 2];
}

/** The explicit midpoint rule as a stage machine. */
export function* midpointStages<T>(ops: VectorOps<T>, x: T, t0: number, t1: number): Stages<T> {
  const h = t1 - t0;
  const [, tm] = midpointTimes(t0, t1);
  const k1 = yield { x, t: t0 };
  const k2 = yield { x: ops.lincomb([1, h / 2], [x, k1]), t: tm };
  return ops.lincomb([1, h], [x, k2]);
}

/** Explicit midpoint (torchdiffeq's "midpoint"): x1 = x0 + h F(x0 + h/2 F(x0, t0), t0 + h/2). Order 2. */
export function midpointStep<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  return runStages(ev, midpointStages(ev.ops, x, t0, t1));
}
