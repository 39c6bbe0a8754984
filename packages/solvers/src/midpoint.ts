import type { Evaluator } from "./driver";

/** Explicit midpoint (torchdiffeq's "midpoint"): x1 = x0 + h F(x0 + h/2 F(x0, t0), t0 + h/2). Order 2. */
export async function midpointStep<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  const h = t1 - t0;
  const k1 = await ev.velocity(x, t0);
  const k2 = await ev.velocity(ev.ops.lincomb([1, h / 2], [x, k1]), t0 + h / 2);
  return ev.ops.lincomb([1, h], [x, k2]);
}
