// The graph IR: a DAG of ONNX-named ops over symbolic values with static shape and dtype.
// Everything else (ONNX emission, the float64 interpreter, autodiff) is a separate pass over this.
import type { DType } from "../dtype";
import { formatShape, type Shape } from "../shape";
import type { Attrs } from "./attrs";
import { inferOutputs } from "./infer";

/** A symbolic tensor: one output of one node, or a graph input, or a parameter. */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: readonly number[],
    /** The producing node; undefined for graph inputs and parameters. */
    readonly node: Node | undefined,
    /** Graph inputs and parameters carry their external name (parameters: the PyTorch state-dict key). */
    readonly name?: string,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `%${this.name ?? this.id}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

export interface Node {
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly attrs: Attrs;
  readonly outputs: readonly Value[];
}

export interface GraphInput {
  readonly value: Value;
  /** Axes whose size is symbolic in the emitted ONNX model, e.g. { 0: "batch" }. */
  readonly dynamicAxes: Readonly<Record<number, string>>;
}

export interface Parameter {
  readonly value: Value;
  /** Frozen parameters and buffers (e.g. pos_embed) get no gradient. */
  readonly trainable: boolean;
}

export interface GraphOutput {
  readonly name: string;
  readonly value: Value;
  readonly dynamicAxes: Readonly<Record<number, string>>;
}

/**
 * A graph under construction or finished. Values are created only through `input`, `param` and
 * `apply` (used by the op builders in ops.ts), so nodes are always in topological order.
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: GraphInput[] = [];
  readonly params = new Map<string, Parameter>();
  readonly outputs: GraphOutput[] = [];
  private nextId = 0;

  constructor(readonly name = "graph") {}

  input(name: string, dtype: DType, shape: Shape, dynamicAxes: Record<number, string> = {}): Value {
    if (this.inputs.some((i) => i.value.name === name))
      throw new Error(`graph input '${name}' declared twice`);
    const v = new Value(this, this.nextId++, dtype, [...shape], undefined, name);
    this.inputs.push({ value: v, dynamicAxes });
    return v;
  }

  /** Declares a named parameter (bound to weights when the graph is run or emitted). */
  param(name: string, shape: Shape, dtype: DType = "float32", trainable = true): Value {
    const existing = this.params.get(name);
    if (existing) {
      const v = existing.value;
      if (formatShape(v.shape) !== formatShape(shape) || v.dtype !== dtype) {
        throw new Error(`parameter '${name}' redeclared as ${dtype}${formatShape(shape)}, was ${v}`);
      }
      return v;
    }
    const v = new Value(this, this.nextId++, dtype, [...shape], undefined, name);
    this.params.set(name, { value: v, trainable });
    return v;
  }

  /** Appends a node; output types come from the op's shape/dtype inference. */
  apply(op: string, inputs: readonly Value[], attrs: Attrs = {}): Value[] {
    for (const x of inputs) {
      if (x.graph !== this) throw new Error(`${op}: input ${x} belongs to another graph`);
    }
    const types = inferOutputs(op, inputs, attrs);
    const outputs: Value[] = [];
    const node: Node = { op, inputs: [...inputs], attrs, outputs };
    for (const t of types) outputs.push(new Value(this, this.nextId++, t.dtype, t.shape, node));
    this.nodes.push(node);
    return outputs;
  }

  output(name: string, value: Value, dynamicAxes: Record<number, string> = {}): void {
    if (this.outputs.some((o) => o.name === name)) throw new Error(`graph output '${name}' declared twice`);
    this.outputs.push({ name, value, dynamicAxes });
  }

  /** Nodes needed to compute the given values (all outputs by default), in topological order. */
  liveNodes(roots: readonly Value[] = this.outputs.map((o) => o.value)): Node[] {
    const live = new Set<Node>();
    const stack = roots.map((r) => r.node).filter((n): n is Node => n !== undefined);
    while (stack.length) {
      const n = stack.pop()!;
      if (live.has(n)) continue;
      live.add(n);
      for (const i of n.inputs) if (i.node && !live.has(i.node)) stack.push(i.node);
    }
    return this.nodes.filter((n) => live.has(n));
  }

  /** Total number of elements of all declared parameters. */
  parameterCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.value.shape.reduce((a, b) => a * b, 1);
    return n;
  }
}
