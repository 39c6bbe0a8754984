// The velocity-model API the solvers consume: SiT's base(x, t, y) and the refiner's (x, t, v, y) on
// any backend session. Guidance on the doubled batch is the solvers' `guidance` option.
import { type Session, toHost } from "@flowturbo/core";
import type { RefinerField, VelocityField } from "@flowturbo/solvers";
import { Tensor } from "@flowturbo/tensor";

export interface VelocityModelOptions {
  /** Shape of the state x: [N, C, H, W] (N = 2B under CFG: the doubled batch). */
  shape: readonly number[];
  /** Class label of each of the N rows (under CFG: cat[labels, null]). */
  labels: ArrayLike<number>;
}

function feedsFor(opts: VelocityModelOptions, x: Float32Array, t: number): Record<string, Tensor> {
  const n = opts.shape[0];
  if (x.length !== opts.shape.reduce((a, b) => a * b, 1)) {
    throw new Error(`velocity model: x has ${x.length} values, expected shape [${opts.shape.join(", ")}]`);
  }
  return {
    x: new Tensor("float32", opts.shape, x),
    t: new Tensor("float32", [n], new Float32Array(n).fill(t)),
    y: Tensor.from(
      "int64",
      [n],
      Array.from(opts.labels, (l) => BigInt(l)),
    ),
  };
}

async function output(session: Session, feeds: Record<string, Tensor>, name: string): Promise<Float32Array> {
  const out = await toHost((await session.run(feeds, [name]))[name]);
  return out.dtype === "float32" ? (out.data as Float32Array) : out.toFloat32();
}

/** SiT forward as a velocity field over Float32Array states (session inputs x, t, y; output v). */
export function baseVelocity(session: Session, opts: VelocityModelOptions): VelocityField<Float32Array> {
  return (x, t) => output(session, feedsFor(opts, x, t), "v");
}

/** The refiner's raw delta v as a refiner field (session inputs x, t, v, y; output delta_v). */
export function refinerVelocity(session: Session, opts: VelocityModelOptions): RefinerField<Float32Array> {
  return (x, t, v) =>
    output(session, { ...feedsFor(opts, x, t), v: new Tensor("float32", opts.shape, v) }, "delta_v");
}

/** Labels of the doubled CFG batch: cat[labels, null]. */
export function doubledLabels(labels: ArrayLike<number>, nullClass: number): number[] {
  return [...Array.from(labels), ...new Array<number>(labels.length).fill(nullClass)];
}
