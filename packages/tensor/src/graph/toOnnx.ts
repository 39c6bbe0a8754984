// ONNX emission: the IR maps almost 1:1 onto ONNX ops; operands that ONNX takes as inputs
// (axes, shapes, pads, slice bounds) become int64 initializers.
import type { DType } from "../dtype";
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto, AttributeProto } from "../onnx/proto";
import { type EncodedModel, type EncodeOptions, encodeModel } from "../onnx/encode";
import { AttributeType, IR_VERSION } from "../onnx/proto";
import { dtypeToOnnx, tensorToProto } from "../onnx/tensor";
import { formatShape } from "../shape";
import { Tensor } from "../tensor";
import type { AttrValue } from "./attrs";
import type { Graph, Node, Value } from "./ir";

export const DEFAULT_OPSET = 18;

/** ONNX Runtime's contrib domain. */
export const MS_DOMAIN = "com.microsoft";

/** IR ops that are not in the default ONNX domain: emitted with this domain (opset version 1). */
export const OP_DOMAINS: Readonly<Record<string, string>> = {
  FastGelu: MS_DOMAIN,
  MultiHeadAttention: MS_DOMAIN,
};

export interface ToOnnxOptions {
  /** Weights by parameter name; every parameter needs one unless `paramsAsInputs`. */
  weights?: ReadonlyMap<string, Tensor> | Record<string, Tensor>;
  /**
   * Emit parameters as graph inputs instead of initializers: all (true) or those the predicate picks
   * (training steps feed trainable weights in and read the updated ones out).
   */
  paramsAsInputs?: boolean | ((name: string) => boolean);
  opset?: number;
  producerVersion?: string;
  /** Extra model metadata (metadata_props). */
  metadata?: Record<string, string>;
}

function lookup(weights: ToOnnxOptions["weights"], name: string): Tensor | undefined {
  if (!weights) return undefined;
  return weights instanceof Map ? weights.get(name) : (weights as Record<string, Tensor>)[name];
}

function valueInfo(
  name: string,
  v: Value,
  dynamicAxes: Readonly<Record<number, string>> = {},
): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: dtypeToOnnx(v.dtype),
        shape: {
          dim: v.shape.map((d, i) => (dynamicAxes[i] ? { dimParam: dynamicAxes[i] } : { dimValue: d })),
        },
      },
    },
  };
}

const FLOAT_ATTRS = new Set(["epsilon", "alpha", "beta", "scale"]);

/** Numbers become INT attributes except the float-typed ones (epsilon, alpha, beta). */
function attr(name: string, v: AttrValue): AttributeProto {
  if (typeof v === "number") {
    return FLOAT_ATTRS.has(name)
      ? { name, type: AttributeType.FLOAT, f: v }
      : { name, type: AttributeType.INT, i: v };
  }
  if (typeof v === "string") return { name, type: AttributeType.STRING, s: v };
  if (v instanceof Tensor) return { name, type: AttributeType.TENSOR, t: tensorToProto("", v) };
  return { name, type: AttributeType.INTS, ints: [...v] };
}

class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly names = new Map<Value, string>();
  private constCount = 0;

  name(v: Value): string {
    let n = this.names.get(v);
    if (!n) {
      n = v.name ?? `v${v.id}`;
      this.names.set(v, n);
    }
    return n;
  }

  /** An int64 (or typed) initializer holding a constant operand. */
  constInput(
    values: readonly number[],
    dtype: DType = "int64",
    shape: readonly number[] = [values.length],
  ): string {
    const name = `const_${this.constCount++}`;
    this.initializers.push(tensorToProto(name, Tensor.from(dtype, shape, values)));
    return name;
  }

  /** Domains other than the default one that emitted nodes use. */
  readonly domains = new Set<string>();

  node(opType: string, input: string[], output: string[], attrs: Record<string, AttrValue> = {}): NodeProto {
    const attribute = Object.entries(attrs).map(([k, v]) => attr(k, v));
    const node: NodeProto = { opType, input, output, name: `${opType}_${this.nodes.length}`, attribute };
    const domain = OP_DOMAINS[opType];
    if (domain) {
      node.domain = domain;
      this.domains.add(domain);
    }
    this.nodes.push(node);
    return node;
  }

  emit(n: Node): NodeProto {
    const inputs = n.inputs.map((x) => this.name(x));
    const outputs = n.outputs.map((x) => this.name(x));
    const a = n.attrs;
    const ints = (k: string) => a[k] as readonly number[];
    switch (n.op) {
      case "Cast":
        return this.node("Cast", inputs, outputs, { to: dtypeToOnnx(a.to as DType) });
      case "ReduceSum":
      case "ReduceMean":
      case "ReduceMax":
        return this.node(n.op, [...inputs, this.constInput(ints("axes"))], outputs, {
          keepdims: a.keepdims as number,
        });
      case "Reshape":
        return this.node("Reshape", [...inputs, this.constInput(ints("shape"))], outputs);
      case "Expand":
        return this.node("Expand", [...inputs, this.constInput(ints("shape"))], outputs);
      case "Unsqueeze":
      case "Squeeze":
        return this.node(n.op, [...inputs, this.constInput(ints("axes"))], outputs);
      case "Split":
        return this.node("Split", [...inputs, this.constInput(ints("split"))], outputs, {
          axis: a.axis as number,
        });
      case "Slice": {
        const starts = ints("starts");
        const ops = [this.constInput(starts), this.constInput(ints("ends"))];
        ops.push(this.constInput(a.axes ? ints("axes") : starts.map((_, i) => i)));
        if (a.steps) ops.push(this.constInput(ints("steps")));
        return this.node("Slice", [...inputs, ...ops], outputs);
      }
      case "Pad": {
        const value = this.constInput([(a.value as number | undefined) ?? 0], n.inputs[0].dtype, []);
        return this.node("Pad", [...inputs, this.constInput(ints("pads")), value], outputs, {
          mode: "constant",
        });
      }
      case "Resize": {
        const attrs: Record<string, AttrValue> = {
          mode: a.mode as string,
          coordinate_transformation_mode: a.coordinate_transformation_mode as string,
        };
        if (a.mode === "nearest") attrs.nearest_mode = a.nearest_mode as string;
        return this.node("Resize", [...inputs, "", "", this.constInput(ints("sizes"))], outputs, attrs);
      }
      case "Conv": {
        const kernel = n.inputs[1].shape.slice(2);
        return this.node("Conv", inputs, outputs, { ...a, kernel_shape: kernel });
      }
      default:
        return this.node(n.op, inputs, outputs, { ...a });
    }
  }
}

/** Builds the ONNX ModelProto of a graph (see `toOnnx` for bytes). */
export function toModelProto(graph: Graph, opts: ToOnnxOptions = {}): ModelProto {
  if (graph.outputs.length === 0) throw new Error(`graph '${graph.name}' has no outputs`);
  const e = new Emitter();
  const inputs: ValueInfoProto[] = graph.inputs.map((i) =>
    valueInfo(e.name(i.value), i.value, i.dynamicAxes),
  );
  const nodes = graph.liveNodes();
  const used = new Set<Value>();
  for (const n of nodes) for (const x of n.inputs) used.add(x);
  for (const o of graph.outputs) used.add(o.value);
  for (const [name, p] of graph.params) {
    if (!used.has(p.value)) continue;
    const asInput =
      typeof opts.paramsAsInputs === "function" ? opts.paramsAsInputs(name) : opts.paramsAsInputs;
    if (asInput) {
      inputs.push(valueInfo(name, p.value));
      continue;
    }
    const w = lookup(opts.weights, name);
    if (!w)
      throw new Error(
        `missing weight for parameter '${name}' (${p.value.dtype}${formatShape(p.value.shape)})`,
      );
    if (formatShape(w.shape) !== formatShape(p.value.shape)) {
      throw new Error(
        `weight '${name}': expected shape ${formatShape(p.value.shape)}, got ${formatShape(w.shape)}`,
      );
    }
    e.initializers.push(tensorToProto(name, w.dtype === p.value.dtype ? w : w.astype(p.value.dtype)));
  }
  for (const n of nodes) e.emit(n);
  const outputs = graph.outputs.map((o) => {
    // ONNX outputs need their own names: route inputs/params (or values already named) through Identity.
    const src = e.name(o.value);
    if (src !== o.name) e.node("Identity", [src], [o.name]);
    return valueInfo(o.name, o.value, o.dynamicAxes);
  });
  return {
    irVersion: IR_VERSION,
    opsetImport: [
      { domain: "", version: opts.opset ?? DEFAULT_OPSET },
      ...[...e.domains].sort().map((domain) => ({ domain, version: 1 })),
    ],
    producerName: "flowturbo-ts",
    producerVersion: opts.producerVersion ?? "0.1.0",
    graph: { name: graph.name, node: e.nodes, initializer: e.initializers, input: inputs, output: outputs },
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** Emits a graph as .onnx bytes (weights as initializers; models over 2 GiB need `toOnnxWithExternalData`). */
export function toOnnx(graph: Graph, opts: ToOnnxOptions = {}): Uint8Array {
  return encodeModel(toModelProto(graph, opts));
}

/** Emits a graph, moving initializers to an external data file as `encode` says (default: only when over 2 GiB). */
export function toOnnxWithExternalData(
  graph: Graph,
  opts: ToOnnxOptions & { encode?: EncodeOptions } = {},
): EncodedModel {
  return encodeModel(toModelProto(graph, opts), opts.encode ?? { externalData: "auto" });
}
