// Composite functions built from IR ops (no dedicated op, so every backend and pass handles them).
import { Tensor } from "../tensor";
import type { Value } from "./ir";
import * as op from "./ops";

/** GELU; "tanh" is the approximation SiT/DiT use: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
export function gelu(x: Value, approximate: "tanh" | "none" = "none"): Value {
  if (approximate === "tanh") {
    const inner = op.mul(op.add(x, op.mul(op.mul(op.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return op.mul(op.mul(x, 0.5), op.add(op.tanh(inner), 1));
  }
  return op.mul(op.mul(x, 0.5), op.add(op.erf(op.mul(x, Math.SQRT1_2)), 1));
}

export function silu(x: Value): Value {
  return op.mul(x, op.sigmoid(x));
}

/** LayerNormalization over the last axis with optional affine parameters (ONNX needs a scale: ones). */
export function layerNorm(x: Value, eps: number, weight?: Value, bias?: Value): Value {
  const d = x.shape[x.rank - 1];
  const scale = weight ?? op.constant(x.graph, Tensor.from(x.dtype, [d], new Array(d).fill(1)));
  return op.layerNormalization(x, scale, bias, eps, -1);
}

/**
 * GroupNorm on [N, C, ...] as PyTorch: statistics over (C/G, spatial) per group, biased variance,
 * then per-channel affine. Written with ReduceMean so it runs on every backend.
 */
export function groupNorm(x: Value, groups: number, eps: number, weight?: Value, bias?: Value): Value {
  const [n, c] = x.shape;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels do not divide into ${groups} groups`);
  const grouped = op.reshape(x, [0, groups, -1]);
  const mean = op.reduceMean(grouped, [2]);
  const centered = op.sub(grouped, mean);
  const variance = op.reduceMean(op.mul(centered, centered), [2]);
  const normed = op.reshape(op.div(centered, op.sqrt(op.add(variance, eps))), [0, ...x.shape.slice(1)]);
  void n;
  const affineShape = [c, ...x.shape.slice(2).map(() => 1)];
  let y = normed;
  if (weight) y = op.mul(y, op.reshape(weight, affineShape));
  if (bias) y = op.add(y, op.reshape(bias, affineShape));
  return y;
}

/** softmax(q k^T * scale) v over the last two axes; q,k,v: [..., T, d]. */
export function scaledDotProductAttention(q: Value, k: Value, v: Value, scale?: number): Value {
  const d = q.shape[q.rank - 1];
  const perm = [...Array(k.rank).keys()];
  [perm[k.rank - 2], perm[k.rank - 1]] = [perm[k.rank - 1], perm[k.rank - 2]];
  const scores = op.mul(op.matmul(q, op.transpose(k, perm)), scale ?? 1 / Math.sqrt(d));
  return op.matmul(op.softmax(scores, -1), v);
}

/**
 * Multi-head attention from primitives: q [B, S, D], k [B, L, D], v [B, L, Dv] split into heads by
 * columns (head h: columns h*D/heads..), scaledDotProductAttention per head, heads concatenated back
 * to [B, S, Dv]. The plain form of op.multiHeadAttention (same values; autodiff differentiates the op
 * through this).
 */
export function multiHeadAttention(q: Value, k: Value, v: Value, heads: number, scale?: number): Value {
  const split = (x: Value) => op.transpose(op.reshape(x, [0, 0, heads, x.shape[2] / heads]), [0, 2, 1, 3]); // [B, heads, T, d]
  const o = scaledDotProductAttention(split(q), split(k), split(v), scale);
  return op.reshape(op.transpose(o, [0, 2, 1, 3]), [0, 0, v.shape[2]]);
}
