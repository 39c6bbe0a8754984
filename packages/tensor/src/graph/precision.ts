// Float16 conversion pass: a new graph computing in float16, with numerically sensitive ops kept in
// float32 (their inputs cast up, their outputs cast back down).
import { isFloat } from "../dtype";
import type { Tensor } from "../tensor";
import { Graph, type Value } from "./ir";
import { cast } from "./ops";

/** Ops whose float16 evaluation loses too much (reductions over many elements, exp/log/pow ranges). */
export const FLOAT32_OPS: readonly string[] = [
  "LayerNormalization",
  "Softmax",
  "MultiHeadAttention",
  "ReduceMean",
  "ReduceSum",
  "Exp",
  "Log",
  "Pow",
  "Sqrt",
  "Reciprocal",
  "Div",
  "Sin",
  "Cos",
  "Erf",
];

export interface HalfPrecisionOptions {
  /** Ops evaluated in float32 (default FLOAT32_OPS). */
  keepFloat32?: readonly string[];
  /** Keep float32 graph inputs and outputs (cast at the boundary). Default true. */
  float32Interface?: boolean;
}

/**
 * Rewrites a float32 graph to float16: parameters become float16 (weights are converted when the graph
 * is emitted or interpreted), constants are converted, ops in `keepFloat32` run in float32.
 */
export function toHalfPrecision(graph: Graph, opts: HalfPrecisionOptions = {}): Graph {
  const keep = new Set(opts.keepFloat32 ?? FLOAT32_OPS);
  const boundary = opts.float32Interface ?? true;
  const g = new Graph(graph.name);
  const map = new Map<Value, Value>();
  const half = (v: Value) => (v.dtype === "float32" ? "float16" : v.dtype);
  for (const { value, dynamicAxes } of graph.inputs) {
    const x = g.input(value.name!, boundary ? value.dtype : half(value), value.shape, { ...dynamicAxes });
    map.set(value, value.dtype === "float32" && boundary ? cast(x, "float16") : x);
  }
  for (const [name, p] of graph.params)
    map.set(p.value, g.param(name, p.value.shape, half(p.value), p.trainable));
  for (const node of graph.nodes) {
    const f32 = keep.has(node.op);
    const inputs = node.inputs.map((x) => {
      const y = map.get(x)!;
      if (f32 && y.dtype === "float16") return cast(y, "float32");
      return y;
    });
    let attrs = node.attrs;
    if (node.op === "Constant" && (attrs.value as Tensor).dtype === "float32" && !f32) {
      attrs = { value: (attrs.value as Tensor).astype("float16") };
    } else if (node.op === "Cast" && attrs.to === "float32") {
      attrs = { to: "float16" };
    }
    // Constant operands of binary ops must match: lift the other side if the op is kept in float32.
    const outs = g.apply(node.op, alignFloats(inputs), attrs);
    node.outputs.forEach((o, i) => {
      const y = outs[i];
      map.set(o, f32 && y.dtype === "float32" && o.dtype === "float32" ? cast(y, "float16") : y);
    });
  }
  for (const o of graph.outputs) {
    const y = map.get(o.value)!;
    g.output(o.name, boundary && o.value.dtype === "float32" && isFloat(y.dtype) ? cast(y, "float32") : y, {
      ...o.dynamicAxes,
    });
  }
  return g;
}

/** Mixed float16/float32 operands of one node are all raised to float32. */
function alignFloats(inputs: Value[]): Value[] {
  const hasF32 = inputs.some((x) => x.dtype === "float32");
  const hasF16 = inputs.some((x) => x.dtype === "float16");
  return hasF32 && hasF16 ? inputs.map((x) => (x.dtype === "float16" ? cast(x, "float32") : x)) : inputs;
}

/** Converts float32 weights to float16 for a half-precision graph (other dtypes unchanged). */
export function halfWeights(weights: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, t] of weights) out.set(k, t.dtype === "float32" ? t.astype("float16") : t);
  return out;
}
