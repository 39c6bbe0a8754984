// Modules with named parameters: a Scope carries the PyTorch state-dict prefix ("blocks.0.attn").
import type { DType } from "../dtype";
import * as F from "./functional";
import type { Graph, Value } from "./ir";
import * as op from "./ops";

export interface ParamOptions {
  dtype?: DType;
  /** Buffers and frozen weights (e.g. SiT's pos_embed) are declared with trainable: false. */
  trainable?: boolean;
}

/** A naming scope: parameters declared through it get `prefix.name` keys. */
export class Scope {
  constructor(
    readonly graph: Graph,
    readonly prefix = "",
    /** Defaults for every parameter declared through this scope and its children (e.g. frozen). */
    readonly defaults: ParamOptions = {},
  ) {}

  child(name: string | number): Scope {
    return new Scope(this.graph, this.key(String(name)), this.defaults);
  }

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  param(name: string, shape: readonly number[], opts: ParamOptions = {}): Value {
    const o = { ...this.defaults, ...opts };
    return this.graph.param(this.key(name), shape, o.dtype ?? "float32", o.trainable ?? true);
  }
}

/** torch.nn.Linear: weight [out, in], bias [out]; applies to the last axis. */
export function linear(s: Scope, x: Value, outFeatures: number, opts: { bias?: boolean } = {}): Value {
  const inFeatures = x.shape[x.rank - 1];
  const w = s.param("weight", [outFeatures, inFeatures]);
  const y = op.matmul(x, op.transpose(w, [1, 0]));
  return opts.bias === false ? y : op.add(y, s.param("bias", [outFeatures]));
}

/** torch.nn.LayerNorm over the last axis; `affine: false` is elementwise_affine=False. */
export function layerNorm(s: Scope, x: Value, opts: { eps?: number; affine?: boolean } = {}): Value {
  const d = x.shape[x.rank - 1];
  const eps = opts.eps ?? 1e-5;
  if (opts.affine === false) return F.layerNorm(x, eps);
  return F.layerNorm(x, eps, s.param("weight", [d]), s.param("bias", [d]));
}

export interface Conv2dOptions {
  kernel: number;
  stride?: number;
  padding?: number;
  groups?: number;
  bias?: boolean;
}

/** torch.nn.Conv2d: weight [out, in/groups, k, k], bias [out]. */
export function conv2d(s: Scope, x: Value, outChannels: number, o: Conv2dOptions): Value {
  const groups = o.groups ?? 1;
  const w = s.param("weight", [outChannels, x.shape[1] / groups, o.kernel, o.kernel]);
  const b = o.bias === false ? undefined : s.param("bias", [outChannels]);
  const p = o.padding ?? 0;
  const stride = o.stride ?? 1;
  return op.conv(x, w, b, { strides: [stride, stride], pads: [p, p, p, p], group: groups });
}

/** torch.nn.Embedding: weight [num, dim], looked up by integer indices. */
export function embedding(s: Scope, indices: Value, num: number, dim: number): Value {
  return op.gather(s.param("weight", [num, dim]), indices, 0);
}

/** torch.nn.GroupNorm with affine weight/bias [C]. */
export function groupNorm(
  s: Scope,
  x: Value,
  groups: number,
  opts: { eps?: number; affine?: boolean } = {},
): Value {
  const c = x.shape[1];
  if (opts.affine === false) return F.groupNorm(x, groups, opts.eps ?? 1e-5);
  return F.groupNorm(x, groups, opts.eps ?? 1e-5, s.param("weight", [c]), s.param("bias", [c]));
}

/**
 * How composite layers are written as ops:
 * - "plain": ONNX primitives only (MatMul, Softmax, Tanh, ...): runs on every backend and ONNX runtime.
 * - "fused": ONNX Runtime's contrib ops where one fits (com.microsoft MultiHeadAttention, FastGelu),
 *   which its CPU, WASM and WebGPU providers implement as single kernels: a third fewer nodes, faster
 *   session creation and runs. The same values (the interpreter and autodiff evaluate both).
 */
export type GraphForm = "plain" | "fused";

/** The graph forms, for option parsing. */
export const GRAPH_FORMS: readonly GraphForm[] = ["plain", "fused"];

/**
 * timm's Attention (used by DiT/SiT): qkv = Linear(D, 3D) [qkv], heads, softmax(q k^T / sqrt(D/H)) v,
 * output Linear(D, D) [proj]. x: [B, T, D]; batch-agnostic reshapes. `form: "fused"` computes the
 * attention with op.multiHeadAttention on the q, k, v column blocks of qkv.
 */
export function attention(s: Scope, x: Value, heads: number, opts: { form?: GraphForm } = {}): Value {
  const [, t, d] = x.shape;
  if (d % heads !== 0) throw new Error(`attention: width ${d} is not divisible by ${heads} heads`);
  const qkv = linear(s.child("qkv"), x, 3 * d);
  if (opts.form === "fused") {
    const [q, k, v] = op.split(qkv, 3, 2);
    return linear(s.child("proj"), op.multiHeadAttention(q, k, v, heads), d);
  }
  const split = op.transpose(op.reshape(qkv, [0, t, 3, heads, d / heads]), [2, 0, 3, 1, 4]);
  const [q, k, v] = op.split(split, 3, 0).map((p) => op.squeeze(p, [0]));
  const o = F.scaledDotProductAttention(q, k, v);
  const merged = op.reshape(op.transpose(o, [0, 2, 1, 3]), [0, t, d]);
  return linear(s.child("proj"), merged, d);
}
