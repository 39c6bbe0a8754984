import type { Evaluator } from "./driver";

/** Euler: x1 = x0 + h F(x0, t0). 1 evaluation, order 1. */
export async function eulerStep<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  const d = await ev.velocity(x, t0);
  return ev.ops.lincomb([1, t1 - t0], [x, d]);
}
