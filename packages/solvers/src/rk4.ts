import { type Evaluator, runStages, type Stages } from "./driver";
import type { VectorOps } from "./vectorOps";

/** Times at which a classic RK4 step from t0 to t1 evaluates the velocity. */
export function rk4Times(t0: number, t1: number): number[] {
  const tm = t0 + (t1 - t0) / 2;
  return [t0, tm, tm, t1];
}

/** Classic RK4 as a stage machine. */
export function* rk4Stages<T>(ops: VectorOps<T>, x: T, t0: number, t1: number): Stages<T> {
  const h = t1 - t0;
  const [, tm] = rk4Times(t0, t1);
  const k1 = yield { x, t: t0 };
  const k2 = yield { x: ops.lincomb([1, h / 2], [x, k1]), t: tm };
  const k3 = yield { x: ops.lincomb([1, h / 2], [x, k2]), t: tm };
  const k4 = yield { x: ops.lincomb([1, h], [x, k3]), t: t1 };
  return ops.lincomb([1, h / 6, h / 3, h / 3, h / 6], [x, k1, k2, k3, k4]);
}

/** Times at which an RK4 3/8-rule step from t0 to t1 evaluates the velocity. */
export function rk38Times(t0: number, t1: number): number[] {
  const h = t1 - t0;
  return [t0, t0 + h / 3, t0 + (2 * h) / 3, t1];
}

/** RK4 with the 3/8 rule as a stage machine. */
export function* rk38Stages<T>(ops: VectorOps<T>, x: T, t0: number, t1: number): Stages<T> {
  const h = t1 - t0;
  const [, ta, tb] = rk38Times(t0, t1);
  const k1 = yield { x, t: t0 };
  const k2 = yield { x: ops.lincomb([1, h / 3], [x, k1]), t: ta };
  const k3 = yield { x: ops.lincomb([1, -h / 3, h], [x, k1, k2]), t: tb };
  const k4 = yield { x: ops.lincomb([1, h, -h, h], [x, k1, k2, k3]), t: t1 };
  return ops.lincomb([1, h / 8, (3 * h) / 8, (3 * h) / 8, h / 8], [x, k1, k2, k3, k4]);
}

/** Classic RK4 (1/6, 1/3, 1/3, 1/6). 4 evaluations, order 4. */
export function rk4Step<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  return runStages(ev, rk4Stages(ev.ops, x, t0, t1));
}

/** RK4 with the 3/8 rule: what torchdiffeq's fixed-grid "rk4" method runs. 4 evaluations, order 4. */
export function rk38Step<T>(ev: Evaluator<T>, x: T, t0: number, t1: number): Promise<T> {
  return runStages(ev, rk38Stages(ev.ops, x, t0, t1));
}
