// The interpreter's value: any dtype held as float64 numbers (int64 exact up to 2^53, bool as 0/1).
import type { DType } from "../dtype";
import { numel, stridesOf } from "../shape";

export interface F64Array {
  dtype: DType;
  shape: number[];
  data: Float64Array;
}

export function f64(dtype: DType, shape: readonly number[], data?: Float64Array): F64Array {
  return { dtype, shape: [...shape], data: data ?? new Float64Array(numel(shape)) };
}

/** Strides of `shape` when broadcast to `outShape` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const s = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_d, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]));
}

/** Calls fn(outIndex, offsets...) for every element of outShape with the given per-input strides. */
export function forEachIndex(
  outShape: readonly number[],
  strides: readonly number[][],
  fn: (i: number, offs: number[]) => void,
): void {
  const rank = outShape.length;
  const n = numel(outShape);
  const idx = new Array<number>(rank).fill(0);
  const offs = strides.map(() => 0);
  for (let i = 0; i < n; i++) {
    fn(i, offs);
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]++;
      for (let k = 0; k < strides.length; k++) offs[k] += strides[k][a];
      if (idx[a] < outShape[a]) break;
      for (let k = 0; k < strides.length; k++) offs[k] -= strides[k][a] * outShape[a];
      idx[a] = 0;
    }
  }
}

/** Materializes `x` broadcast to outShape. */
export function broadcastTo(x: F64Array, outShape: readonly number[]): Float64Array {
  if (x.shape.length === outShape.length && x.shape.every((d, i) => d === outShape[i])) return x.data;
  const out = new Float64Array(numel(outShape));
  const src = x.data;
  forEachIndex(outShape, [broadcastStrides(x.shape, outShape)], (i, o) => {
    out[i] = src[o[0]];
  });
  return out;
}
