import { type Evaluator, runStages, type Stages } from "./driver";
import type { VectorOps } from "./vectorOps";

/** Times at which an Euler step from t0 to t1 evaluates the velocity. */
export function eulerTimes(t0: number, _t1: number): number[] {
  return [t0];
}

/** Euler as a stage machine: x1 = x0 + h F(x0, t0). */
export function* eulerStages<T>(ops: VectorOps<T>, x: T, t0: number, t1: number): Stages<T> {
  const d = yield { x, t: t0 };
  return ops.lincomb([1, t1 - t0], [x, d]);
}

/** Euler: x1 = x0 + h F(x0, t0). 1 evaluation, order 1. */
export function eulerStep<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  return runStages(ev, eulerStages(ev.ops, x, t0, t1));
}
