import type { Evaluator } from "./driver";

/** Classic RK4 (1/6, 1/3, 1/3, 1/6). 4 evaluations, order 4. */
export async function rk4Step<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  const { ops } = ev;
  const h = t1 - t0;
  const tm = t0 + h / 2;
  const k1 = await ev.velocity(x, t0);
  const k2 = await ev.velocity(ops.lincomb([1, h / 2], [x, k1]), tm);
  const k3 = await ev.velocity(ops.lincomb([1, h / 2], [x, k2]), tm);
  const k4 = await ev.velocity(ops.lincomb([1, h], [x, k3]), t1);
  return ops.lincomb([1, h / 6, h / 3, h / 3, h / 6], [x, k1, k2, k3, k4]);
}

/** RK4 with the 3/8 rule: what torchdiffeq's fixed-grid "rk4" method runs. 4 evaluations, order 4. */
export async function rk38Step<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  const { ops } = ev;
  const h = t1 - t0;
  const k1 = await ev.velocity(x, t0);
  const k2 = await ev.velocity(ops.lincomb([1, h / 3], [x, k1]), t0 + h / 3);
  const k3 = await ev.velocity(ops.lincomb([1, -h / 3, h], [x, k1, k2]), t0 + (2 * h) / 3);
  const k4 = await ev.velocity(ops.lincomb([1, h, -h, h], [x, k1, k2, k3]), t1);
  return ops.lincomb([1, h / 8, (3 * h) / 8, (3 * h) / 8, h / 8], [x, k1, k2, k3, k4]);
}
