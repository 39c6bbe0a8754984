// Static shape and dtype inference for every op of the IR. An op missing here does not exist.
import { type DType, isFloat } from "../dtype";
import { broadcastShapes, formatShape, normAxis, numel } from "../shape";
import { Tensor } from "../tensor";
import type { Attrs, AttrValue } from "./attrs";

export interface ValueType {
  dtype: DType;
  shape: number[];
}

/** What inference reads of an operand (a graph `Value`: its type, and its text in error messages). */
interface Operand {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly rank: number;
}

export const UNARY_OPS = [
  "Identity",
  "Neg",
  "Abs",
  "Exp",
  "Log",
  "Sqrt",
  "Reciprocal",
  "Tanh",
  "Sigmoid",
  "Sin",
  "Cos",
  "Relu",
  "Erf",
  "Floor",
  "Ceil",
  "Sign",
  "Not",
] as const;
export const BINARY_OPS = ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"] as const;
export const COMPARE_OPS = [
  "Equal",
  "Less",
  "Greater",
  "LessOrEqual",
  "GreaterOrEqual",
  "And",
  "Or",
] as const;
export const REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax"] as const;

const unary = new Set<string>(UNARY_OPS);
const binary = new Set<string>(BINARY_OPS);
const compare = new Set<string>(COMPARE_OPS);
const reduce = new Set<string>(REDUCE_OPS);

function fail(op: string, msg: string): never {
  throw new Error(`${op}: ${msg}`);
}

export function ints(attrs: Attrs, key: string, op: string, fallback?: readonly number[]): number[] {
  const v: AttrValue | undefined = attrs[key];
  if (v === undefined) {
    if (fallback) return [...fallback];
    fail(op, `missing attribute '${key}'`);
  }
  if (!Array.isArray(v)) fail(op, `attribute '${key}' must be a list of integers`);
  return [...(v as number[])];
}

export function int(attrs: Attrs, key: string, op: string, fallback?: number): number {
  const v = attrs[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    fail(op, `missing attribute '${key}'`);
  }
  if (typeof v !== "number") fail(op, `attribute '${key}' must be a number`);
  return v;
}

function sameDType(op: string, inputs: readonly Operand[]): DType {
  const d = inputs[0].dtype;
  for (const x of inputs) if (x.dtype !== d) fail(op, `dtypes differ: ${inputs.map(String).join(", ")}`);
  return d;
}

function arity(op: string, inputs: readonly Operand[], min: number, max = min): void {
  if (inputs.length < min || inputs.length > max) {
    fail(op, `expects ${min === max ? min : `${min}..${max}`} inputs, got ${inputs.length}`);
  }
}

/** ONNX Reshape target: 0 copies the input dim, -1 is inferred. */
export function reshapeTarget(op: string, input: readonly number[], target: readonly number[]): number[] {
  const out = target.map((d, i) => {
    if (d === 0) {
      if (i >= input.length)
        fail(op, `0 at axis ${i} but input ${formatShape(input)} has rank ${input.length}`);
      return input[i];
    }
    return d;
  });
  const n = numel(input);
  const inferAt = out.indexOf(-1);
  if (inferAt >= 0) {
    if (out.lastIndexOf(-1) !== inferAt) fail(op, `more than one -1 in ${formatShape(target)}`);
    const known = numel(out.filter((_, i) => i !== inferAt));
    if (known === 0 || n % known !== 0)
      fail(op, `cannot reshape ${formatShape(input)} to ${formatShape(target)}`);
    out[inferAt] = n / known;
  }
  if (numel(out) !== n)
    fail(op, `cannot reshape ${formatShape(input)} (${n} elements) to ${formatShape(target)}`);
  return out;
}

export function matmulShape(op: string, a: readonly number[], b: readonly number[]): number[] {
  if (a.length < 1 || b.length < 1) fail(op, "scalars are not allowed");
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const [m, k] = a2.slice(-2);
  const [k2, n] = b2.slice(-2);
  if (k !== k2) fail(op, `inner dimensions differ: ${formatShape(a)} x ${formatShape(b)}`);
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  const out = [...batch, m, n];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.splice(out.length - 1, 1);
  return out;
}

/** Output spatial size of a conv/pool window along one axis. */
export function windowOut(
  size: number,
  k: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dil = 1,
): number {
  return Math.floor((size + padBegin + padEnd - dil * (k - 1) - 1) / stride) + 1;
}

function sliceShape(op: string, shape: readonly number[], attrs: Attrs): number[] {
  const starts = ints(attrs, "starts", op);
  const ends = ints(attrs, "ends", op);
  const axes = ints(
    attrs,
    "axes",
    op,
    starts.map((_, i) => i),
  );
  const steps = ints(
    attrs,
    "steps",
    op,
    starts.map(() => 1),
  );
  const out = [...shape];
  axes.forEach((ax, i) => {
    const a = normAxis(ax, shape.length);
    const [s, e, st] = sliceRange(shape[a], starts[i], ends[i], steps[i]);
    out[a] = Math.max(0, Math.ceil((e - s) / st));
  });
  return out;
}

/** Clamped [start, end) and step of one sliced axis, ONNX semantics (steps > 0 only). */
export function sliceRange(dim: number, start: number, end: number, step: number): [number, number, number] {
  if (step <= 0) throw new Error(`Slice: only positive steps are supported, got ${step}`);
  const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + dim : x, 0), dim);
  return [clamp(start), clamp(end), step];
}

export function inferOutputs(op: string, inputs: readonly Operand[], attrs: Attrs): ValueType[] {
  const x = inputs[0];
  const one = (dtype: DType, shape: readonly number[]): ValueType[] => [{ dtype, shape: [...shape] }];
  if (unary.has(op)) {
    arity(op, inputs, 1);
    if (
      op === "Not"
        ? x.dtype !== "bool"
        : op !== "Identity" && op !== "Neg" && op !== "Abs" && op !== "Sign" && !isFloat(x.dtype)
    ) {
      fail(op, `unsupported dtype ${x.dtype}`);
    }
    return one(x.dtype, x.shape);
  }
  if (binary.has(op)) {
    arity(op, inputs, 2);
    return one(sameDType(op, inputs), broadcastShapes(inputs[0].shape, inputs[1].shape));
  }
  if (compare.has(op)) {
    arity(op, inputs, 2);
    sameDType(op, inputs);
    return one("bool", broadcastShapes(inputs[0].shape, inputs[1].shape));
  }
  if (reduce.has(op)) {
    arity(op, inputs, 1);
    const axes = ints(attrs, "axes", op).map((a) => normAxis(a, x.rank));
    const keep = int(attrs, "keepdims", op, 1);
    const shape: number[] = [];
    x.shape.forEach((d, i) => {
      if (!axes.includes(i)) shape.push(d);
      else if (keep) shape.push(1);
    });
    return one(x.dtype, shape);
  }
  switch (op) {
    case "Constant": {
      arity(op, inputs, 0);
      const t = attrs.value;
      if (!(t instanceof Tensor)) fail(op, "attribute 'value' must be a Tensor");
      return one(t.dtype, t.shape);
    }
    case "Cast": {
      arity(op, inputs, 1);
      return one(attrs.to as DType, x.shape);
    }
    case "Where": {
      arity(op, inputs, 3);
      if (x.dtype !== "bool") fail(op, `condition must be bool, got ${x.dtype}`);
      sameDType(op, inputs.slice(1));
      return one(
        inputs[1].dtype,
        broadcastShapes(broadcastShapes(x.shape, inputs[1].shape), inputs[2].shape),
      );
    }
    case "MatMul": {
      arity(op, inputs, 2);
      return one(sameDType(op, inputs), matmulShape(op, inputs[0].shape, inputs[1].shape));
    }
    case "Gemm": {
      arity(op, inputs, 2, 3);
      const [a, b] = inputs;
      if (a.rank !== 2 || b.rank !== 2) fail(op, "inputs must be 2-D");
      const m = int(attrs, "transA", op, 0) ? a.shape[1] : a.shape[0];
      const ka = int(attrs, "transA", op, 0) ? a.shape[0] : a.shape[1];
      const kb = int(attrs, "transB", op, 0) ? b.shape[1] : b.shape[0];
      const n = int(attrs, "transB", op, 0) ? b.shape[0] : b.shape[1];
      if (ka !== kb) fail(op, `inner dimensions differ: ${a} x ${b}`);
      if (inputs[2]) broadcastShapes([m, n], inputs[2].shape);
      return one(sameDType(op, inputs), [m, n]);
    }
    case "Softmax": {
      arity(op, inputs, 1);
      normAxis(int(attrs, "axis", op, -1), x.rank);
      return one(x.dtype, x.shape);
    }
    case "LayerNormalization": {
      arity(op, inputs, 2, 3);
      const axis = normAxis(int(attrs, "axis", op, -1), x.rank);
      const norm = x.shape.slice(axis);
      for (const p of inputs.slice(1)) broadcastShapes(norm, p.shape);
      return one(x.dtype, x.shape);
    }
    case "FastGelu": {
      arity(op, inputs, 1, 2);
      if (!isFloat(x.dtype)) fail(op, `input must be floating point, got ${x}`);
      const bias = inputs[1];
      if (bias && (bias.rank !== 1 || bias.shape[0] !== x.shape[x.rank - 1]))
        fail(op, `bias ${bias} must be [${x.shape[x.rank - 1]}] (the last axis of ${x})`);
      sameDType(op, inputs);
      return one(x.dtype, x.shape);
    }
    case "MultiHeadAttention": {
      arity(op, inputs, 3);
      const [q, k, v] = inputs;
      const heads = int(attrs, "num_heads", op);
      sameDType(op, inputs);
      if (!isFloat(q.dtype)) fail(op, `inputs must be floating point, got ${q}`);
      if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3)
        fail(op, `q, k, v must be [B, S, D]: ${q}, ${k}, ${v}`);
      const [b, s, d] = q.shape;
      if (k.shape[0] !== b || v.shape[0] !== b || k.shape[1] !== v.shape[1] || k.shape[2] !== d)
        fail(op, `q ${q}, k ${k}, v ${v} do not fit (k must be [B, L, D], v [B, L, Dv])`);
      if (!Number.isInteger(heads) || heads < 1 || d % heads !== 0 || v.shape[2] % heads !== 0)
        fail(op, `${heads} heads do not divide the widths of q ${q} and v ${v}`);
      return one(q.dtype, [b, s, v.shape[2]]);
    }
    case "Conv": {
      arity(op, inputs, 2, 3);
      const w = inputs[1];
      const sp = x.rank - 2;
      if (sp < 1 || w.rank !== x.rank) fail(op, `bad ranks: x ${x}, w ${w}`);
      const group = int(attrs, "group", op, 1);
      if (x.shape[1] !== w.shape[1] * group)
        fail(op, `input channels ${x.shape[1]} != ${w.shape[1]} x group ${group}`);
      const strides = ints(attrs, "strides", op, Array(sp).fill(1));
      const pads = ints(attrs, "pads", op, Array(2 * sp).fill(0));
      const dil = ints(attrs, "dilations", op, Array(sp).fill(1));
      const spatial = x.shape
        .slice(2)
        .map((s, i) => windowOut(s, w.shape[2 + i], strides[i], pads[i], pads[i + sp], dil[i]));
      if (inputs[2] && (inputs[2].rank !== 1 || inputs[2].shape[0] !== w.shape[0]))
        fail(op, `bias ${inputs[2]} must be [${w.shape[0]}]`);
      return one(sameDType(op, inputs), [x.shape[0], w.shape[0], ...spatial]);
    }
    case "MaxPool":
    case "AveragePool": {
      arity(op, inputs, 1);
      const sp = x.rank - 2;
      const k = ints(attrs, "kernel_shape", op);
      const strides = ints(attrs, "strides", op, Array(sp).fill(1));
      const pads = ints(attrs, "pads", op, Array(2 * sp).fill(0));
      const spatial = x.shape.slice(2).map((s, i) => windowOut(s, k[i], strides[i], pads[i], pads[i + sp]));
      return one(x.dtype, [x.shape[0], x.shape[1], ...spatial]);
    }
    case "GlobalAveragePool": {
      arity(op, inputs, 1);
      return one(x.dtype, [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)]);
    }
    case "Resize": {
      arity(op, inputs, 1);
      const sizes = ints(attrs, "sizes", op);
      if (sizes.length !== x.rank) fail(op, `sizes ${formatShape(sizes)} must have rank ${x.rank}`);
      return one(x.dtype, sizes);
    }
    case "Pad": {
      arity(op, inputs, 1);
      const pads = ints(attrs, "pads", op);
      if (pads.length !== 2 * x.rank) fail(op, `pads must have ${2 * x.rank} entries`);
      return one(
        x.dtype,
        x.shape.map((d, i) => d + pads[i] + pads[i + x.rank]),
      );
    }
    case "Reshape":
      arity(op, inputs, 1);
      return one(x.dtype, reshapeTarget(op, x.shape, ints(attrs, "shape", op)));
    case "Transpose": {
      arity(op, inputs, 1);
      const perm = ints(attrs, "perm", op);
      if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i))
        fail(op, `bad perm [${perm}] for ${x}`);
      return one(
        x.dtype,
        perm.map((p) => x.shape[p]),
      );
    }
    case "Concat": {
      if (inputs.length < 1) fail(op, "needs at least one input");
      const axis = normAxis(int(attrs, "axis", op), x.rank);
      const dtype = sameDType(op, inputs);
      const shape = [...x.shape];
      shape[axis] = 0;
      for (const v of inputs) {
        if (v.rank !== x.rank || v.shape.some((d, i) => i !== axis && d !== x.shape[i])) {
          fail(op, `shapes ${inputs.map(String).join(", ")} do not concatenate on axis ${axis}`);
        }
        shape[axis] += v.shape[axis];
      }
      return one(dtype, shape);
    }
    case "Slice":
      arity(op, inputs, 1);
      return one(x.dtype, sliceShape(op, x.shape, attrs));
    case "Split": {
      arity(op, inputs, 1);
      const axis = normAxis(int(attrs, "axis", op, 0), x.rank);
      const split = ints(attrs, "split", op);
      if (split.reduce((a, b) => a + b, 0) !== x.shape[axis])
        fail(op, `split [${split}] does not sum to ${x.shape[axis]}`);
      return split.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? s : d)) }));
    }
    case "Gather": {
      arity(op, inputs, 2);
      const idx = inputs[1];
      if (idx.dtype !== "int64" && idx.dtype !== "int32")
        fail(op, `indices must be int64/int32, got ${idx.dtype}`);
      const axis = normAxis(int(attrs, "axis", op, 0), x.rank);
      return one(x.dtype, [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)]);
    }
    case "Unsqueeze": {
      arity(op, inputs, 1);
      const rank = x.rank + ints(attrs, "axes", op).length;
      const axes = ints(attrs, "axes", op).map((a) => normAxis(a, rank));
      const shape: number[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]);
      return one(x.dtype, shape);
    }
    case "Squeeze": {
      arity(op, inputs, 1);
      const axes = ints(attrs, "axes", op).map((a) => normAxis(a, x.rank));
      for (const a of axes) if (x.shape[a] !== 1) fail(op, `axis ${a} of ${x} is not 1`);
      return one(
        x.dtype,
        x.shape.filter((_, i) => !axes.includes(i)),
      );
    }
    case "Expand":
      arity(op, inputs, 1);
      return one(x.dtype, broadcastShapes(x.shape, ints(attrs, "shape", op)));
    default:
      fail(op, "unknown op");
  }
}
