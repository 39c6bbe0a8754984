import { CountingEvaluator, finish } from "./driver";
import { linspace } from "./grids";
import type { CommonOptions, RequireOps, SolveResult, VelocityField } from "./types";

/**
 * Standard-normal noise for Euler–Maruyama step `step` (0-based), shaped like `like`. Plug a
 * counter-based RNG in here (e.g. Philox keyed by the seed, counter = step) so that runs are
 * reproducible and independent of batch scheduling.
 */
export type NoiseSource<T> = (step: number, like: T) => T | Promise<T>;

/** What SiT does after the last Euler–Maruyama step (SiT's `--last-step`; "Tweedie" is not offered). */
export type SdeLastStep = "mean" | "euler" | "none";

export interface SdeOptions<T> extends CommonOptions<T> {
  /** Standard-normal noise per step (required; this package has no RNG of its own). */
  noise: NoiseSource<T>;
  /** Grid points of linspace(t0, t1, numSteps): numSteps-1 noisy steps (default 250, SiT's). */
  numSteps?: number;
  /** Start time (default 0). */
  t0?: number;
  /** End of the noisy grid (default 1 - lastStepSize, i.e. 0.96 as SiT). */
  t1?: number;
  /** Diffusion coefficient w(t) (default 1 - t: SiT's "sigma" form with norm 1). Must be finite on the grid. */
  diffusion?: (t: number) => number;
  /**
   * "mean" (default, SiT): x + drift(x, t1) * lastStepSize, no noise; "euler": x + v(x, t1) * lastStepSize;
   * "none": stop at t1.
   */
  lastStep?: SdeLastStep;
  /** Size of the last step (default 0.04, SiT's). */
  lastStepSize?: number;
}

/**
 * SiT's SDE sampler for the linear path with velocity prediction: Euler–Maruyama on
 * dx = [v + w(t) s(x, t)] dt + sqrt(2 w(t)) dW with score s = (t v - x)/(1 - t), over
 * linspace(t0, t1, numSteps) (the step at each grid point but the last), then the last step.
 * NFE: numSteps - 1 noisy steps + 1 for the last step ("mean"/"euler").
 */
export async function solveSde<T>(
  velocity: VelocityField<T>,
  x0: T,
  options: SdeOptions<T> & RequireOps<T>,
): Promise<SolveResult<T>> {
  const numSteps = options.numSteps ?? 250;
  const lastStep = options.lastStep ?? "mean";
  const lastStepSize = lastStep === "none" ? 0 : (options.lastStepSize ?? 0.04);
  const t0 = options.t0 ?? 0;
  const t1 = options.t1 ?? 1 - lastStepSize;
  const diffusion = options.diffusion ?? ((t: number) => 1 - t);
  if (typeof options.noise !== "function")
    throw new TypeError("solveSde needs a noise source (options.noise)");
  const grid = linspace(t0, t1, numSteps);

  const ev = new CountingEvaluator(velocity, undefined, x0, options);
  const { ops } = ev;
  const { onStep } = options;
  const trajectory = options.trajectory ? [x0] : undefined;

  // drift = v + w (t v - x)/(1 - t) = (1 + c t) v - c x with c = w/(1 - t).
  const driftStep = async (x: T, t: number, h: number, extra?: { coeff: number; noise: T }) => {
    const v = await ev.velocity(x, t);
    const w = diffusion(t);
    const c = w === 0 ? 0 : w / (1 - t);
    if (!Number.isFinite(c)) throw new RangeError(`SDE drift is singular at t=${t} (w=${w})`);
    const coeffs = [1 - c * h, (1 + c * t) * h];
    const terms = [x, v];
    if (extra) {
      coeffs.push(extra.coeff);
      terms.push(extra.noise);
    }
    return ops.lincomb(coeffs, terms);
  };
  const report = async (x: T, step: number, t: number) => {
    trajectory?.push(x);
    if (onStep) await onStep({ step, t, x, nfe: { ...ev.nfe } });
  };

  let x = x0;
  let steps = 0;
  for (let k = 0; k < grid.length - 1; k++) {
    ev.throwIfAborted();
    ev.step = k;
    const t = grid[k];
    const h = grid[k + 1] - t;
    const w = diffusion(t);
    if (!(w >= 0)) throw new RangeError(`diffusion must be >= 0, got w(${t}) = ${w}`);
    const z = await options.noise(k, x);
    ev.checkFinite(z, "noise", t);
    x = await driftStep(x, t, h, { coeff: Math.sqrt(2 * w * h), noise: z });
    await report(x, ++steps, grid[k + 1]);
  }
  if (lastStep !== "none") {
    ev.throwIfAborted();
    ev.step = steps;
    const tEnd = grid[grid.length - 1];
    if (lastStep === "mean") {
      x = await driftStep(x, tEnd, lastStepSize);
    } else {
      const v = await ev.velocity(x, tEnd);
      x = ops.lincomb([1, lastStepSize], [x, v]);
    }
    await report(x, ++steps, tEnd + lastStepSize);
  }
  return finish(x, ev, steps, trajectory);
}
