import { allocate, type DType, isFloat, type TypedArrayOf } from "./dtype";
import { floatsFromHalfBits, halfBitsFromFloats, toHalfBits } from "./float16";
import { assertShape, formatShape, numel, type Shape } from "./shape";

/**
 * A host tensor: dtype, static shape and row-major typed storage. Immutable by convention: ops return
 * new tensors; `data` may be written only by the code that created the tensor.
 */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayOf[D];

  constructor(dtype: D, shape: Shape, data: TypedArrayOf[D]) {
    assertShape(shape);
    const n = numel(shape);
    if (data.length !== n) {
      throw new Error(`tensor of shape ${formatShape(shape)} needs ${n} elements, got ${data.length}`);
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  static zeros<D extends DType>(dtype: D, shape: Shape): Tensor<D> {
    return new Tensor(dtype, shape, allocate(dtype, numel(shape)));
  }

  /** Builds a tensor from numbers (or bigints for int64), converting to the dtype's storage. */
  static from<D extends DType>(
    dtype: D,
    shape: Shape,
    values: ArrayLike<number> | ArrayLike<bigint>,
  ): Tensor<D> {
    const out = Tensor.zeros(dtype, shape);
    if (values.length !== out.size) {
      throw new Error(
        `tensor of shape ${formatShape(shape)} needs ${out.size} elements, got ${values.length}`,
      );
    }
    const data = out.data as TypedArrayOf[DType];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (dtype === "int64") (data as BigInt64Array)[i] = typeof v === "bigint" ? v : BigInt(Math.trunc(v));
      else if (dtype === "float16") (data as Uint16Array)[i] = toHalfBits(Number(v));
      else if (dtype === "bool") (data as Uint8Array)[i] = v ? 1 : 0;
      else (data as Float64Array)[i] = Number(v);
    }
    return out;
  }

  static scalar(value: number, dtype: DType = "float32"): Tensor {
    return Tensor.from(dtype, [], [value]);
  }

  /** Values as float64 (float16 decoded, int64 converted with Number()). */
  toFloat64(): Float64Array {
    if (this.dtype === "float16") return Float64Array.from(floatsFromHalfBits(this.data as Uint16Array));
    if (this.dtype === "int64") return Float64Array.from(this.data as BigInt64Array, Number);
    return Float64Array.from(this.data as ArrayLike<number>);
  }

  toFloat32(): Float32Array {
    if (this.dtype === "float32") return (this.data as Float32Array).slice();
    if (this.dtype === "float16") return floatsFromHalfBits(this.data as Uint16Array);
    return Float32Array.from(this.toFloat64());
  }

  /** Converts to another dtype (floats round to nearest; float -> int truncates toward zero like numpy). */
  astype<E extends DType>(dtype: E): Tensor<E> {
    if ((dtype as DType) === this.dtype)
      return new Tensor(dtype, this.shape, this.data.slice() as TypedArrayOf[E]);
    const src = this.toFloat64();
    if (dtype === "float16") return new Tensor(dtype, this.shape, halfBitsFromFloats(src) as TypedArrayOf[E]);
    if (!isFloat(dtype)) {
      for (let i = 0; i < src.length; i++)
        src[i] = dtype === "bool" ? (src[i] !== 0 ? 1 : 0) : Math.trunc(src[i]);
    }
    return Tensor.from(dtype, this.shape, src);
  }

  reshape(shape: Shape): Tensor<D> {
    let infer = -1;
    const dims = [...shape];
    dims.forEach((d, i) => {
      if (d === -1) {
        if (infer >= 0) throw new Error(`reshape to ${formatShape(shape)}: only one -1 allowed`);
        infer = i;
      }
    });
    if (infer >= 0) {
      const known = numel(dims.filter((_, i) => i !== infer));
      dims[infer] = known === 0 ? 0 : this.size / known;
    }
    if (numel(dims) !== this.size) {
      throw new Error(
        `cannot reshape ${formatShape(this.shape)} (${this.size} elements) to ${formatShape(shape)}`,
      );
    }
    return new Tensor(this.dtype, dims, this.data);
  }

  /** Rows [start, end) along axis 0. */
  sliceRows(start: number, end: number): Tensor<D> {
    const rowSize = this.shape.length === 0 ? 1 : this.size / Math.max(this.shape[0], 1);
    const shape = [end - start, ...this.shape.slice(1)];
    return new Tensor(this.dtype, shape, this.data.slice(start * rowSize, end * rowSize) as TypedArrayOf[D]);
  }

  /** Concatenates along axis 0. */
  static concatRows<D extends DType>(parts: readonly Tensor<D>[]): Tensor<D> {
    if (parts.length === 0) throw new Error("concatRows needs at least one tensor");
    const [first] = parts;
    const tail = first.shape.slice(1);
    let rows = 0;
    for (const p of parts) {
      if (p.dtype !== first.dtype || formatShape(p.shape.slice(1)) !== formatShape(tail)) {
        throw new Error(
          `concatRows: ${p.dtype}${formatShape(p.shape)} does not match ${first.dtype}${formatShape(first.shape)}`,
        );
      }
      rows += p.shape[0];
    }
    const out = Tensor.zeros(first.dtype, [rows, ...tail]);
    let offset = 0;
    for (const p of parts) {
      (out.data as Float32Array).set(p.data as Float32Array, offset);
      offset += p.size;
    }
    return out;
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${formatShape(this.shape)})`;
  }
}

/** Largest absolute difference between two tensors of the same shape, compared in float64. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (formatShape(a.shape) !== formatShape(b.shape)) {
    throw new Error(`maxAbsDiff: shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} differ`);
  }
  const x = a.toFloat64();
  const y = b.toFloat64();
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (d > m || Number.isNaN(d)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}
