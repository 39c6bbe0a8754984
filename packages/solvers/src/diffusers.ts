import type { VelocityField } from "./types";
import { defaultOpsFor, type VectorOps } from "./vectorOps";

/**
 * diffusers' flow-matching convention: x = (1 - sigma)*data + sigma*noise, the model predicts
 * v_d = noise - data, sigma goes 1 -> 0. With t = 1 - sigma this is the SiT convention and
 * dx/dt = -v_d.
 */
export type DiffusersVelocity<T> = (x: T, sigma: number) => T | Promise<T>;

/** Flow time of a diffusers sigma: t = 1 - sigma. */
export function sigmaToTime(sigma: number): number {
  return 1 - sigma;
}

/** diffusers sigma of a flow time: sigma = 1 - t. */
export function timeToSigma(t: number): number {
  return 1 - t;
}

/** Wraps a diffusers-convention model as a VelocityField: v(x, t) = -v_d(x, sigma = 1 - t). */
export function fromDiffusersVelocity<T>(model: DiffusersVelocity<T>, ops?: VectorOps<T>): VelocityField<T> {
  return async (x, t) => {
    const vd = await model(x, 1 - t);
    return (ops ?? defaultOpsFor(vd)).lincomb([-1], [vd]);
  };
}
