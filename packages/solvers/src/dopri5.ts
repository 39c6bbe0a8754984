import { CountingEvaluator, finish } from "./driver";
import type { BuiltInState, CommonOptions, SolveResult, VelocityField } from "./types";
import type { VectorOps } from "./vectorOps";

// Dormand–Prince 5(4) tableau (torchdiffeq's dopri5). Stage i+1 is evaluated at t0 + ALPHA[i]*h on
// x0 + h * sum_j BETA[i][j] k_j; the last stage is at the 5th-order solution (FSAL).
const ALPHA = [1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const BETA = [
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
// 5th-order minus 4th-order weights over k1..k7.
const C_ERROR = [
  35 / 384 - 1951 / 21600,
  0,
  500 / 1113 - 22642 / 50085,
  125 / 192 - 451 / 720,
  -2187 / 6784 - -12231 / 42400,
  11 / 84 - 649 / 6300,
  -1 / 60,
];
// Weights of the midpoint value used by the dense-output interpolant (Shampine).
const C_MID = [
  6025192743 / 30085553152 / 2,
  0,
  51252292925 / 65400821598 / 2,
  -2691868925 / 45128329728 / 2,
  187940372067 / 1594534317056 / 2,
  -1776094331 / 19743644256 / 2,
  11237099 / 235043384 / 2,
];

export interface Dopri5Options<T> extends CommonOptions<T> {
  /** Start time (default 0). */
  t0?: number;
  /** End time (default 1); must be greater than t0. */
  t1?: number;
  /**
   * Dense output (torchdiffeq's `odeint(func, y0, t)`): increasing times, the first the start and the
   * last the end (instead of `t0`/`t1`). `result.outputs[i]` is the solution at `outputTimes[i]`:
   * the initial state, then the 4th-order interpolant of the accepted step holding each time (the
   * step's own end state when a time falls exactly on it). Steps are chosen by the error control
   * alone, as without output times.
   */
  outputTimes?: readonly number[];
  /** Absolute tolerance (default 1e-6, SiT's). */
  atol?: number;
  /** Relative tolerance (default 1e-3, SiT's). */
  rtol?: number;
  /** First step size; default: torchdiffeq's `_select_initial_step` (costs one evaluation). */
  firstStep?: number;
  /** Step-size controller (torchdiffeq defaults 0.9, 10, 0.2). */
  safety?: number;
  ifactor?: number;
  dfactor?: number;
  /** Give up after this many step attempts (default 100000). */
  maxSteps?: number;
  /**
   * true (default): a step that would pass t1 is shortened to end exactly at t1, so the velocity is
   * never evaluated past t1. false (torchdiffeq, hence SiT's sampler): steps are never shortened; the
   * last step may pass t1 (evaluating the velocity at t > t1, e.g. t = 1.344 for SiT's defaults) and
   * the result is the dense-output interpolant at t1.
   */
  clipToEnd?: boolean;
}

export interface Dopri5Result<T> extends SolveResult<T> {
  /** Accepted steps (also `steps`). */
  accepted: number;
  /** Rejected step attempts. */
  rejected: number;
  /** With `outputTimes`: the solution at each of them (the last one is `x`). */
  outputs?: T[];
}

/** Sum x + h * sum_j w_j k_j, skipping zero weights. */
function combine<T>(
  ops: VectorOps<T>,
  x: T | undefined,
  h: number,
  weights: readonly number[],
  ks: readonly T[],
) {
  const coeffs: number[] = x === undefined ? [] : [1];
  const terms: T[] = x === undefined ? [] : [x];
  for (let j = 0; j < weights.length; j++) {
    if (weights[j] !== 0) {
      coeffs.push(h * weights[j]);
      terms.push(ks[j]);
    }
  }
  return ops.lincomb(coeffs, terms);
}

/** torchdiffeq's `_select_initial_step` (Hairer, Nørsett & Wanner II.4) for order 4 (exponent 1/5). */
async function selectInitialStep<T>(
  ev: CountingEvaluator<T>,
  t0: number,
  y0: T,
  f0: T,
  atol: number,
  rtol: number,
): Promise<number> {
  const { ops } = ev;
  const d0 = ops.scaledRms(y0, y0, undefined, atol, rtol);
  const d1 = ops.scaledRms(f0, y0, undefined, atol, rtol);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const f1 = await ev.velocity(ops.lincomb([1, h0], [y0, f0]), t0 + h0);
  const d2 = ops.scaledRms(ops.lincomb([1, -1], [f1, f0]), y0, undefined, atol, rtol) / h0;
  const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  return Math.min(100 * h0, h1);
}

/** Interpolant of an accepted step from (ta, ya) to (tb, yb), evaluated at t (torchdiffeq's 4th-order fit). */
function interpolate<T>(
  ops: VectorOps<T>,
  ta: number,
  tb: number,
  ya: T,
  yb: T,
  ks: readonly T[],
  t: number,
): T {
  const h = tb - ta;
  const s = (t - ta) / h;
  const s2 = s * s;
  const s3 = s2 * s;
  const s4 = s3 * s;
  const wY0 = -8 * s4 + 18 * s3 - 11 * s2 + 1;
  const wY1 = -8 * s4 + 14 * s3 - 5 * s2;
  const wMid = 16 * s4 - 32 * s3 + 16 * s2;
  const wF0 = h * (-2 * s4 + 5 * s3 - 4 * s2 + s);
  const wF1 = h * (2 * s4 - 3 * s3 + s2);
  // y_mid = ya + h * sum C_MID_j k_j folded into the k weights.
  const kw = C_MID.map((c) => wMid * c);
  kw[0] += wF0 / h;
  kw[6] += wF1 / h;
  const coeffs = [wY0 + wMid, wY1];
  const terms = [ya, yb];
  for (let j = 0; j < 7; j++) {
    if (kw[j] !== 0) {
      coeffs.push(h * kw[j]);
      terms.push(ks[j]);
    }
  }
  return ops.lincomb(coeffs, terms);
}

/** Checks output times and returns [start, end]. */
function checkOutputTimes(times: readonly number[], options: { t0?: number; t1?: number }): [number, number] {
  if (options.t0 !== undefined || options.t1 !== undefined) {
    throw new RangeError("dopri5: give outputTimes or t0/t1, not both");
  }
  if (times.length < 2)
    throw new RangeError(`dopri5 outputTimes needs at least 2 times, got ${times.length}`);
  for (let i = 0; i < times.length; i++) {
    if (!Number.isFinite(times[i]))
      throw new RangeError(`dopri5 outputTimes[${i}] is not finite: ${times[i]}`);
    if (i > 0 && !(times[i] > times[i - 1])) {
      throw new RangeError(`dopri5 outputTimes must increase strictly (indices ${i - 1} and ${i})`);
    }
  }
  return [times[0], times[times.length - 1]];
}

/**
 * Adaptive Dormand–Prince 5(4) with torchdiffeq's semantics: error ratio = RMS over all elements of
 * err / (atol + rtol*max(|y0|, |y1|)), accept when <= 1, next step h*min(ifactor, max(safety/ratio^(1/5),
 * dfactor)) (no shrinking after an accepted step). NFE = 2 + 6*(accepted + rejected) with the
 * automatic first step. The last step ends exactly at t1 unless `clipToEnd: false` (torchdiffeq).
 * Float32Array and Float64Array states may leave out the options; other state types pass `ops`.
 */
export function solveDopri5<T extends BuiltInState>(
  velocity: VelocityField<T>,
  x0: T,
  options?: Dopri5Options<T>,
): Promise<Dopri5Result<T>>;
export function solveDopri5<T>(
  velocity: VelocityField<T>,
  x0: T,
  options: Dopri5Options<T> & { ops: VectorOps<T> },
): Promise<Dopri5Result<T>>;
export async function solveDopri5<T>(
  velocity: VelocityField<T>,
  x0: T,
  options: Dopri5Options<T> = {},
): Promise<Dopri5Result<T>> {
  const times = options.outputTimes;
  const [t0, tEnd] = times ? checkOutputTimes(times, options) : [options.t0 ?? 0, options.t1 ?? 1];
  const clipToEnd = options.clipToEnd ?? true;
  const atol = options.atol ?? 1e-6;
  const rtol = options.rtol ?? 1e-3;
  const safety = options.safety ?? 0.9;
  const ifactor = options.ifactor ?? 10;
  const dfactor = options.dfactor ?? 0.2;
  const maxSteps = options.maxSteps ?? 100_000;
  if (!(tEnd > t0)) throw new RangeError(`dopri5 integrates forward: need t1 > t0, got ${t0} -> ${tEnd}`);
  if (!(atol >= 0 && rtol >= 0 && atol + rtol > 0))
    throw new RangeError("dopri5 needs atol, rtol >= 0, not both 0");

  const ev = new CountingEvaluator(velocity, undefined, x0, options);
  const { ops } = ev;
  const { onStep } = options;
  const trajectory = options.trajectory ? [x0] : undefined;
  const outputs = times ? [x0] : undefined;

  let y = x0;
  let t = t0;
  let f: T = await ev.velocity(y, t);
  let h = options.firstStep ?? (await selectInitialStep(ev, t0, y, f, atol, rtol));
  if (!(h > 0)) throw new RangeError(`dopri5 first step must be positive, got ${h}`);
  let accepted = 0;
  let rejected = 0;
  let xOut = x0;

  while (t < tEnd) {
    ev.throwIfAborted();
    if (accepted + rejected >= maxSteps) throw new Error(`dopri5: max steps exceeded (${maxSteps})`);
    let tNext = t + h;
    if (clipToEnd && tNext >= tEnd) {
      tNext = tEnd;
      h = tEnd - t;
    }
    if (!(tNext > t)) throw new Error(`dopri5: step size underflow (h=${h} at t=${t})`);
    ev.step = accepted;

    const ks: T[] = [f];
    let yNew = y;
    for (let i = 0; i < ALPHA.length; i++) {
      yNew = combine(ops, y, h, BETA[i], ks);
      ks.push(await ev.velocity(yNew, ALPHA[i] === 1 ? tNext : t + ALPHA[i] * h));
    }
    // BETA's last row equals the 5th-order weights, so yNew is the solution and ks[6] its slope.
    const err = combine(ops, undefined, h, C_ERROR, ks);
    const ratio = ops.scaledRms(err, y, yNew, atol, rtol);
    if (!Number.isFinite(ratio)) throw new Error(`dopri5: non-finite error estimate at t=${t} (h=${h})`);

    if (ratio <= 1) {
      if (outputs && times) {
        // Every requested time in (t, tNext]: the step's end state, or its interpolant.
        for (let i = outputs.length; i < times.length && times[i] <= tNext; i++) {
          outputs.push(times[i] === tNext ? yNew : interpolate(ops, t, tNext, y, yNew, ks, times[i]));
        }
      }
      // Past the end: report the interpolated state at tEnd instead of the state at tNext.
      // (With output times the interpolant at tEnd is already the last output.)
      if (tNext <= tEnd) xOut = yNew;
      else xOut = outputs ? outputs[outputs.length - 1] : interpolate(ops, t, tNext, y, yNew, ks, tEnd);
      y = yNew;
      f = ks[6];
      t = tNext;
      accepted++;
      trajectory?.push(xOut);
      if (onStep) await onStep({ step: accepted, t: Math.min(t, tEnd), x: xOut, nfe: { ...ev.nfe } });
    } else {
      rejected++;
    }
    const factor =
      ratio === 0 ? ifactor : Math.min(ifactor, Math.max(safety / ratio ** (1 / 5), ratio < 1 ? 1 : dfactor));
    h *= factor;
  }

  const result: Dopri5Result<T> = { ...finish(xOut, ev, accepted, trajectory), accepted, rejected };
  if (outputs) result.outputs = outputs;
  return result;
}
