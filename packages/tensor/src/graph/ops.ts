// Op builders: the functional API that models are written in. Each returns symbolic Values.
import type { DType } from "../dtype";
import { Tensor } from "../tensor";
import type { Graph, Value } from "./ir";

/** A Value or a plain number (lifted to a scalar constant of the other operand's dtype). */
export type Operand = Value | number;

export function constant(g: Graph, t: Tensor): Value {
  return g.apply("Constant", [], { value: t })[0];
}

export function scalar(g: Graph, v: number, dtype: DType = "float32"): Value {
  return constant(g, Tensor.from(dtype, [], [v]));
}

function lift(a: Operand, b: Operand): [Value, Value] {
  if (typeof a === "number" && typeof b === "number") throw new Error("at least one operand must be a Value");
  const av = typeof a === "number" ? scalar((b as Value).graph, a, (b as Value).dtype) : a;
  const bv = typeof b === "number" ? scalar(av.graph, b, av.dtype) : b;
  return [av, bv];
}

function bin(op: string) {
  return (a: Operand, b: Operand): Value => {
    const [x, y] = lift(a, b);
    return x.graph.apply(op, [x, y])[0];
  };
}

function un(op: string) {
  return (x: Value): Value => x.graph.apply(op, [x])[0];
}

export const add = bin("Add");
export const sub = bin("Sub");
export const mul = bin("Mul");
export const div = bin("Div");
export const pow = bin("Pow");
export const maximum = bin("Max");
export const minimum = bin("Min");
export const equal = bin("Equal");
export const less = bin("Less");
export const greater = bin("Greater");

export const identity = un("Identity");
export const neg = un("Neg");
export const abs = un("Abs");
export const exp = un("Exp");
export const log = un("Log");
export const sqrt = un("Sqrt");
export const reciprocal = un("Reciprocal");
export const tanh = un("Tanh");
export const sigmoid = un("Sigmoid");
export const sin = un("Sin");
export const cos = un("Cos");
export const relu = un("Relu");
export const erf = un("Erf");
export const floor = un("Floor");

export function cast(x: Value, to: DType): Value {
  return x.dtype === to ? x : x.graph.apply("Cast", [x], { to })[0];
}

export function where(cond: Value, a: Operand, b: Operand): Value {
  const [x, y] = lift(a, b);
  return cond.graph.apply("Where", [cond, x, y])[0];
}

export function matmul(a: Value, b: Value): Value {
  return a.graph.apply("MatMul", [a, b])[0];
}

export function gemm(
  a: Value,
  b: Value,
  c?: Value,
  opts: { transA?: boolean; transB?: boolean } = {},
): Value {
  const attrs = { transA: opts.transA ? 1 : 0, transB: opts.transB ? 1 : 0 };
  return a.graph.apply("Gemm", c ? [a, b, c] : [a, b], attrs)[0];
}

/** ONNX Reshape semantics: 0 copies the input dim (keeps graphs batch-agnostic), -1 is inferred. */
export function reshape(x: Value, shape: readonly number[]): Value {
  return x.graph.apply("Reshape", [x], { shape })[0];
}

export function transpose(x: Value, perm: readonly number[]): Value {
  return x.graph.apply("Transpose", [x], { perm })[0];
}

export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 0) throw new Error("concat needs at least one input");
  return xs[0].graph.apply("Concat", xs, { axis })[0];
}

export interface SliceSpec {
  starts: readonly number[];
  ends: readonly number[];
  axes?: readonly number[];
  steps?: readonly number[];
}

export function slice(x: Value, spec: SliceSpec): Value {
  const attrs: Record<string, readonly number[]> = { starts: spec.starts, ends: spec.ends };
  if (spec.axes) attrs.axes = spec.axes;
  if (spec.steps) attrs.steps = spec.steps;
  return x.graph.apply("Slice", [x], attrs)[0];
}

/** Splits along `axis` into pieces of the given sizes (or `n` equal pieces). */
export function split(x: Value, sizes: readonly number[] | number, axis = 0): Value[] {
  const dim = x.shape[axis < 0 ? axis + x.rank : axis];
  const split =
    typeof sizes === "number"
      ? Array.from({ length: sizes }, () => {
          if (dim % sizes !== 0) throw new Error(`split: axis ${axis} of ${x} does not divide into ${sizes}`);
          return dim / sizes;
        })
      : sizes;
  return x.graph.apply("Split", [x], { axis, split });
}

export function gather(x: Value, indices: Value, axis = 0): Value {
  return x.graph.apply("Gather", [x, indices], { axis })[0];
}

export function unsqueeze(x: Value, axes: readonly number[]): Value {
  return x.graph.apply("Unsqueeze", [x], { axes })[0];
}

export function squeeze(x: Value, axes: readonly number[]): Value {
  return x.graph.apply("Squeeze", [x], { axes })[0];
}

export function expand(x: Value, shape: readonly number[]): Value {
  return x.graph.apply("Expand", [x], { shape })[0];
}

export function reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
  return x.graph.apply("ReduceSum", [x], { axes, keepdims: keepdims ? 1 : 0 })[0];
}

export function reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
  return x.graph.apply("ReduceMean", [x], { axes, keepdims: keepdims ? 1 : 0 })[0];
}

export function reduceMax(x: Value, axes: readonly number[], keepdims = true): Value {
  return x.graph.apply("ReduceMax", [x], { axes, keepdims: keepdims ? 1 : 0 })[0];
}

export function softmax(x: Value, axis = -1): Value {
  return x.graph.apply("Softmax", [x], { axis })[0];
}

/** LayerNormalization over the trailing axes from `axis`; scale is required by ONNX (pass ones if no affine). */
export function layerNormalization(x: Value, scale: Value, bias?: Value, epsilon = 1e-5, axis = -1): Value {
  return x.graph.apply("LayerNormalization", bias ? [x, scale, bias] : [x, scale], { axis, epsilon })[0];
}

/**
 * GELU with the tanh approximation, 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))) with u = x + bias,
 * as one op: com.microsoft FastGelu in ONNX (ONNX Runtime's CPU, WASM and WebGPU providers implement it).
 * The same values as F.gelu(add(x, bias), "tanh"), which the interpreter and autodiff use.
 */
export function fastGelu(x: Value, bias?: Value): Value {
  return x.graph.apply("FastGelu", bias ? [x, bias] : [x])[0];
}

/**
 * Multi-head attention on unpacked q [B, S, D], k [B, L, D], v [B, L, Dv]: head h uses columns
 * h*D/heads.. of each and the heads' outputs are concatenated the same way, [B, S, Dv];
 * softmax(q_h k_h^T * scale) v_h with scale 1/sqrt(D/heads) by default. One op: com.microsoft
 * MultiHeadAttention in ONNX (ONNX Runtime's CPU, WASM and WebGPU providers). The same values as
 * F.multiHeadAttention (split heads + F.scaledDotProductAttention), which the interpreter and autodiff use.
 */
export function multiHeadAttention(q: Value, k: Value, v: Value, heads: number, scale?: number): Value {
  const attrs: Record<string, number> = { num_heads: heads };
  if (scale !== undefined) attrs.scale = scale;
  return q.graph.apply("MultiHeadAttention", [q, k, v], attrs)[0];
}

export interface ConvOptions {
  strides?: readonly number[];
  /** [begin..., end...] as ONNX. */
  pads?: readonly number[];
  dilations?: readonly number[];
  group?: number;
}

export function conv(x: Value, w: Value, b?: Value, opts: ConvOptions = {}): Value {
  const attrs: Record<string, number | readonly number[]> = {};
  if (opts.strides) attrs.strides = opts.strides;
  if (opts.pads) attrs.pads = opts.pads;
  if (opts.dilations) attrs.dilations = opts.dilations;
  if (opts.group) attrs.group = opts.group;
  return x.graph.apply("Conv", b ? [x, w, b] : [x, w], attrs)[0];
}

export interface PoolOptions {
  kernel: readonly number[];
  strides?: readonly number[];
  pads?: readonly number[];
  /** AveragePool only: count padded cells in the divisor (ONNX default 0: exclude). */
  countIncludePad?: boolean;
}

export function maxPool(x: Value, o: PoolOptions): Value {
  const attrs: Record<string, number | readonly number[]> = { kernel_shape: o.kernel };
  if (o.strides) attrs.strides = o.strides;
  if (o.pads) attrs.pads = o.pads;
  return x.graph.apply("MaxPool", [x], attrs)[0];
}

export function averagePool(x: Value, o: PoolOptions): Value {
  const attrs: Record<string, number | readonly number[]> = {
    kernel_shape: o.kernel,
    count_include_pad: o.countIncludePad ? 1 : 0,
  };
  if (o.strides) attrs.strides = o.strides;
  if (o.pads) attrs.pads = o.pads;
  return x.graph.apply("AveragePool", [x], attrs)[0];
}

export function globalAveragePool(x: Value): Value {
  return x.graph.apply("GlobalAveragePool", [x])[0];
}

export interface ResizeOptions {
  mode: "nearest" | "linear";
  /** ONNX coordinate_transformation_mode; "half_pixel" is PyTorch's align_corners=False. */
  coordinateTransformation?: "half_pixel" | "asymmetric" | "align_corners" | "pytorch_half_pixel";
  /** For nearest: "floor" is PyTorch's nearest. */
  nearestMode?: "floor" | "round_prefer_floor" | "round_prefer_ceil" | "ceil";
}

/** Resizes to the full output shape `sizes` (no antialiasing). */
export function resize(x: Value, sizes: readonly number[], o: ResizeOptions): Value {
  return x.graph.apply("Resize", [x], {
    sizes,
    mode: o.mode,
    coordinate_transformation_mode: o.coordinateTransformation ?? "half_pixel",
    nearest_mode: o.nearestMode ?? "floor",
  })[0];
}

/** Constant padding; pads = [begin per axis..., end per axis...]. */
export function pad(x: Value, pads: readonly number[], value = 0): Value {
  return x.graph.apply("Pad", [x], { pads, value })[0];
}
