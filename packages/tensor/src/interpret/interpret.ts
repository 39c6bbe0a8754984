// The float64 reference interpreter: the test oracle every backend is compared against.
import type { Graph, Value } from "../graph/ir";
import { formatShape } from "../shape";
import type { Tensor } from "../tensor";
import { type F64Array, f64 } from "./array";
import { KERNELS, toTensor } from "./kernels";

export interface InterpretOptions {
  /** Weights by parameter name (PyTorch state-dict keys). */
  weights?: ReadonlyMap<string, Tensor> | Record<string, Tensor>;
  /** Values to return instead of the graph outputs (e.g. intermediates while debugging). */
  fetch?: readonly Value[];
}

function lookup(weights: InterpretOptions["weights"], name: string): Tensor | undefined {
  if (!weights) return undefined;
  return weights instanceof Map ? weights.get(name) : (weights as Record<string, Tensor>)[name];
}

function bind(value: Value, t: Tensor | undefined, what: string): F64Array {
  if (!t) throw new Error(`missing ${what} '${value.name}' (${value.dtype}${formatShape(value.shape)})`);
  if (formatShape(t.shape) !== formatShape(value.shape)) {
    throw new Error(
      `${what} '${value.name}': expected shape ${formatShape(value.shape)}, got ${formatShape(t.shape)}`,
    );
  }
  return f64(value.dtype, value.shape, t.toFloat64());
}

/**
 * Evaluates the graph in float64. Float results are returned as float64 tensors (never rounded to
 * the graph's float32/float16); integer and bool results keep their dtype.
 */
export function interpret(
  graph: Graph,
  feeds: Record<string, Tensor>,
  opts: InterpretOptions = {},
): Record<string, Tensor> {
  const env = new Map<Value, F64Array>();
  for (const { value } of graph.inputs) env.set(value, bind(value, feeds[value.name!], "graph input"));
  for (const name of Object.keys(feeds)) {
    if (!graph.inputs.some((i) => i.value.name === name)) throw new Error(`unknown graph input '${name}'`);
  }
  const roots = opts.fetch ?? graph.outputs.map((o) => o.value);
  for (const node of graph.liveNodes(roots)) {
    for (const x of node.inputs) {
      if (!env.has(x)) {
        if (!x.name || !graph.params.has(x.name)) throw new Error(`${node.op}: input ${x} has no value`);
        env.set(x, bind(x, lookup(opts.weights, x.name), "parameter"));
      }
    }
    const kernel = KERNELS[node.op];
    if (!kernel) throw new Error(`interpreter: no kernel for op '${node.op}'`);
    const types = node.outputs.map((o) => ({ dtype: o.dtype, shape: [...o.shape] }));
    const results = kernel(
      node.inputs.map((x) => env.get(x)!),
      node.attrs,
      types,
    );
    for (let i = 0; i < node.outputs.length; i++) env.set(node.outputs[i], results[i]);
  }
  const out: Record<string, Tensor> = {};
  const get = (v: Value): F64Array => {
    const r =
      env.get(v) ??
      (v.name && graph.params.has(v.name) ? bind(v, lookup(opts.weights, v.name), "parameter") : undefined);
    if (!r) throw new Error(`value ${v} was not computed`);
    return r;
  };
  if (opts.fetch) for (const [i, v] of opts.fetch.entries()) out[String(i)] = toTensor(get(v));
  else for (const o of graph.outputs) out[o.name] = toTensor(get(o.value));
  return out;
}
