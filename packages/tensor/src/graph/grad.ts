// Reverse-mode autodiff over the IR: appends the backward computation to the same graph, so a
// training step (forward, loss, backward, update) is one ordinary graph that any backend runs.
import { Tensor } from "../tensor";
import * as F from "./functional";
import { int, ints } from "./infer";
import type { Node, Value } from "./ir";
import * as op from "./ops";

/** A VJP rule: cotangents of the node's inputs (undefined where not needed or not differentiable). */
type VjpRule = (node: Node, g: Value, needs: readonly boolean[]) => (Value | undefined)[];

/** Sums a broadcast cotangent back down to `shape` (numpy broadcasting rules). */
export function sumToShape(g: Value, shape: readonly number[]): Value {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const summed = axes.length ? op.reduceSum(g, axes, true) : g;
  return op.reshape(summed, shape);
}

const zerosLike = (v: Value): Value => op.constant(v.graph, Tensor.zeros(v.dtype, v.shape));

function swapLast(v: Value): Value {
  const perm = [...v.shape.keys()];
  [perm[v.rank - 2], perm[v.rank - 1]] = [perm[v.rank - 1], perm[v.rank - 2]];
  return op.transpose(v, perm);
}

/** Statistics of LayerNormalization recomputed from primitives: normalized x and 1/std. */
function layerNormStats(x: Value, axis: number, eps: number): { xhat: Value; rstd: Value; axes: number[] } {
  const axes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
  const xc = op.sub(x, op.reduceMean(x, axes));
  const rstd = op.reciprocal(op.sqrt(op.add(op.reduceMean(op.mul(xc, xc), axes), eps)));
  return { xhat: op.mul(xc, rstd), rstd, axes };
}

const elementwise =
  (f: (x: Value, y: Value, g: Value) => Value): VjpRule =>
  (n, g) => [f(n.inputs[0], n.outputs[0], g)];

/**
 * The VJP of a fused op through its plain form: the node's value is recomputed from primitives on the
 * same inputs (appended to the graph) and that subgraph is differentiated. Same values, no extra rules
 * to keep in step; training graphs normally use the plain forms anyway.
 */
const throughPlainForm =
  (plain: (n: Node) => Value): VjpRule =>
  (n, g, needs) => {
    // a value used as several inputs (q = k = v) gets its whole cotangent once, at its first position
    const first = n.inputs.map((x, i) => needs[i] && n.inputs.indexOf(x) === i);
    const wrt = n.inputs.filter((_, i) => first[i]);
    const graph = n.outputs[0].graph;
    const start = graph.nodes.length;
    const y = plain(n);
    // only the recomputed nodes: the node's inputs are leaves here (the outer pass goes on upstream)
    const grads = backprop(
      y,
      wrt,
      g,
      graph.liveNodes([y]).filter((m) => graph.nodes.indexOf(m) >= start),
    );
    return n.inputs.map((x, i) => (first[i] ? grads[wrt.indexOf(x)] : undefined));
  };

const RULES: Record<string, VjpRule> = {
  FastGelu: throughPlainForm((n) => {
    const [x, bias] = n.inputs;
    return F.gelu(bias ? op.add(x, bias) : x, "tanh");
  }),
  MultiHeadAttention: throughPlainForm((n) => {
    const [q, k, v] = n.inputs;
    return F.multiHeadAttention(
      q,
      k,
      v,
      int(n.attrs, "num_heads", n.op),
      n.attrs.scale as number | undefined,
    );
  }),
  Identity: (_n, g) => [g],
  Neg: (_n, g) => [op.neg(g)],
  Exp: elementwise((_x, y, g) => op.mul(g, y)),
  Log: elementwise((x, _y, g) => op.div(g, x)),
  Sqrt: elementwise((_x, y, g) => op.div(op.mul(g, 0.5), y)),
  Reciprocal: elementwise((_x, y, g) => op.neg(op.mul(g, op.mul(y, y)))),
  Tanh: elementwise((_x, y, g) => op.mul(g, op.sub(1, op.mul(y, y)))),
  Sigmoid: elementwise((_x, y, g) => op.mul(g, op.mul(y, op.sub(1, y)))),
  Sin: elementwise((x, _y, g) => op.mul(g, op.cos(x))),
  Cos: elementwise((x, _y, g) => op.neg(op.mul(g, op.sin(x)))),
  Relu: elementwise((x, _y, g) => op.where(op.greater(x, 0), g, 0)),
  Abs: elementwise((x, _y, g) => op.mul(g, x.graph.apply("Sign", [x])[0])),
  Erf: elementwise((x, _y, g) => op.mul(g, op.mul(op.exp(op.neg(op.mul(x, x))), 2 / Math.sqrt(Math.PI)))),
  Add: (n, g) => [sumToShape(g, n.inputs[0].shape), sumToShape(g, n.inputs[1].shape)],
  Sub: (n, g, needs) => [
    sumToShape(g, n.inputs[0].shape),
    needs[1] ? sumToShape(op.neg(g), n.inputs[1].shape) : undefined,
  ],
  Mul: (n, g, needs) => {
    const [a, b] = n.inputs;
    return [
      needs[0] ? sumToShape(op.mul(g, b), a.shape) : undefined,
      needs[1] ? sumToShape(op.mul(g, a), b.shape) : undefined,
    ];
  },
  Div: (n, g, needs) => {
    const [a, b] = n.inputs;
    return [
      needs[0] ? sumToShape(op.div(g, b), a.shape) : undefined,
      needs[1] ? sumToShape(op.neg(op.div(op.mul(g, n.outputs[0]), b)), b.shape) : undefined,
    ];
  },
  Pow: (n, g, needs) => {
    const [a, b] = n.inputs;
    const y = n.outputs[0];
    return [
      needs[0] ? sumToShape(op.mul(g, op.mul(b, op.pow(a, op.sub(b, 1)))), a.shape) : undefined,
      needs[1] ? sumToShape(op.mul(g, op.mul(y, op.log(a))), b.shape) : undefined,
    ];
  },
  Max: (n, g) => {
    const [a, b] = n.inputs;
    const aWins = a.graph.apply("GreaterOrEqual", [a, b])[0];
    return [sumToShape(op.where(aWins, g, 0), a.shape), sumToShape(op.where(aWins, 0, g), b.shape)];
  },
  Min: (n, g) => {
    const [a, b] = n.inputs;
    const aWins = a.graph.apply("LessOrEqual", [a, b])[0];
    return [sumToShape(op.where(aWins, g, 0), a.shape), sumToShape(op.where(aWins, 0, g), b.shape)];
  },
  Where: (n, g) => {
    const [c, a, b] = n.inputs;
    return [undefined, sumToShape(op.where(c, g, 0), a.shape), sumToShape(op.where(c, 0, g), b.shape)];
  },
  Cast: (n, g) => {
    const x = n.inputs[0];
    return [
      x.dtype === "float32" || x.dtype === "float16" || x.dtype === "float64"
        ? op.cast(g, x.dtype)
        : undefined,
    ];
  },
  MatMul: (n, g, needs) => {
    const [a, b] = n.inputs;
    if (a.rank < 2 || b.rank < 2) throw new Error("gradient of MatMul with 1-D operands is not supported");
    return [
      needs[0] ? sumToShape(op.matmul(g, swapLast(b)), a.shape) : undefined,
      needs[1] ? sumToShape(op.matmul(swapLast(a), g), b.shape) : undefined,
    ];
  },
  Softmax: (n, g) => {
    const y = n.outputs[0];
    const axis = int(n.attrs, "axis", "Softmax", -1);
    return [op.mul(y, op.sub(g, op.reduceSum(op.mul(g, y), [axis], true)))];
  },
  LayerNormalization: (n, g, needs) => {
    const [x, scale, bias] = n.inputs;
    const axis = int(n.attrs, "axis", "LayerNormalization", -1);
    const { xhat, rstd, axes } = layerNormStats(
      x,
      axis < 0 ? axis + x.rank : axis,
      n.attrs.epsilon as number,
    );
    let dx: Value | undefined;
    if (needs[0]) {
      const gh = op.mul(g, scale);
      const m1 = op.reduceMean(gh, axes);
      const m2 = op.reduceMean(op.mul(gh, xhat), axes);
      dx = op.mul(rstd, op.sub(op.sub(gh, m1), op.mul(xhat, m2)));
    }
    return [
      dx,
      needs[1] ? sumToShape(op.mul(g, xhat), scale.shape) : undefined,
      bias && needs[2] ? sumToShape(g, bias.shape) : undefined,
    ];
  },
  Reshape: (n, g) => [op.reshape(g, n.inputs[0].shape)],
  Unsqueeze: (n, g) => [op.reshape(g, n.inputs[0].shape)],
  Squeeze: (n, g) => [op.reshape(g, n.inputs[0].shape)],
  Expand: (n, g) => [sumToShape(g, n.inputs[0].shape)],
  Transpose: (n, g) => {
    const perm = ints(n.attrs, "perm", "Transpose");
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inv[p] = i;
    });
    return [op.transpose(g, inv)];
  },
  Concat: (n, g) => {
    const axis = int(n.attrs, "axis", "Concat");
    const a = axis < 0 ? axis + g.rank : axis;
    return op.split(
      g,
      n.inputs.map((x) => x.shape[a]),
      a,
    );
  },
  Split: () => {
    throw new Error("internal: Split is differentiated through its outputs (see gradients)");
  },
  Slice: (n, g) => {
    const x = n.inputs[0];
    const starts = ints(n.attrs, "starts", "Slice");
    const ends = ints(n.attrs, "ends", "Slice");
    const axes = ints(
      n.attrs,
      "axes",
      "Slice",
      starts.map((_, i) => i),
    ).map((a) => (a < 0 ? a + x.rank : a));
    const steps = ints(
      n.attrs,
      "steps",
      "Slice",
      starts.map(() => 1),
    );
    if (steps.some((s) => s !== 1))
      throw new Error("gradient of Slice with steps other than 1 is not supported");
    const pads = new Array<number>(2 * x.rank).fill(0);
    axes.forEach((a, i) => {
      const dim = x.shape[a];
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      pads[a] = clamp(starts[i]);
      pads[a + x.rank] = dim - clamp(ends[i]);
    });
    return [op.pad(g, pads, 0)];
  },
  Gather: (n, g, needs) => {
    const [x, idx] = n.inputs;
    if (!needs[0]) return [undefined, undefined];
    if (int(n.attrs, "axis", "Gather", 0) !== 0)
      throw new Error("gradient of Gather is supported on axis 0 only");
    // scatter-add as a one-hot matmul: portable to every backend
    const rows = x.shape[0];
    const flatIdx = op.reshape(idx, [-1]);
    const range = op.constant(
      x.graph,
      Tensor.from(
        idx.dtype,
        [1, rows],
        Array.from({ length: rows }, (_, i) => i),
      ),
    );
    const onehot = op.cast(op.equal(op.unsqueeze(flatIdx, [1]), range), g.dtype);
    const gFlat = op.reshape(g, [flatIdx.shape[0], -1]);
    return [op.reshape(op.matmul(op.transpose(onehot, [1, 0]), gFlat), x.shape), undefined];
  },
  ReduceSum: (n, g) => [reduceBack(n, g, 1)],
  ReduceMean: (n, g) => {
    const x = n.inputs[0];
    const axes = ints(n.attrs, "axes", "ReduceMean").map((a) => (a < 0 ? a + x.rank : a));
    return [reduceBack(n, g, 1 / axes.reduce((c, a) => c * x.shape[a], 1))];
  },
  ReduceMax: (n, g) => {
    const x = n.inputs[0];
    const keptShape = reducedShape(n);
    const y = op.reshape(n.outputs[0], keptShape);
    return [op.where(op.equal(x, y), op.expand(op.reshape(g, keptShape), x.shape), 0)];
  },
  Conv: (n, g, needs) => {
    const [x, w, b] = n.inputs;
    if (x.rank !== 4) throw new Error("gradient of Conv is supported for 2-D convolutions only");
    const group = int(n.attrs, "group", "Conv", 1);
    const dil = ints(n.attrs, "dilations", "Conv", [1, 1]);
    if (group !== 1 || dil.some((d) => d !== 1))
      throw new Error("gradient of grouped or dilated Conv is not supported");
    const strides = ints(n.attrs, "strides", "Conv", [1, 1]);
    const pads = ints(n.attrs, "pads", "Conv", [0, 0, 0, 0]);
    const dx = needs[0] ? convInputGrad(x, w, g, strides, pads) : undefined;
    const dw = needs[1] ? convWeightGrad(x, w, g, strides, pads) : undefined;
    return [dx, dw, b && needs[2] ? op.reduceSum(g, [0, 2, 3], false) : undefined];
  },
};

/**
 * dL/dW of a 2-D Conv (group 1, no dilation) as kh*kw matrix products:
 * dW[:, :, a, b] = dY [M, N*Ho*Wo] . X_ab^T, where X_ab [C, N*Ho*Wo] is the padded input seen by
 * kernel tap (a, b) (a strided slice). GEMMs are fast on every backend, unlike a convolution over the
 * batch axis with an Ho x Wo kernel.
 */
function convWeightGrad(
  x: Value,
  w: Value,
  g: Value,
  strides: readonly number[],
  pads: readonly number[],
): Value {
  const [m, c, kh, kw] = w.shape;
  const [ho, wo] = g.shape.slice(2);
  const [sh, sw] = strides;
  const xp = pads.some((p) => p !== 0) ? op.pad(x, [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]], 0) : x;
  const xt = op.transpose(xp, [1, 0, 2, 3]); // [C, N, Hp, Wp]
  const gt = op.reshape(op.transpose(g, [1, 0, 2, 3]), [m, -1]); // [M, N*Ho*Wo]
  const taps: Value[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const xs = op.slice(xt, {
        starts: [a, b],
        ends: [a + (ho - 1) * sh + 1, b + (wo - 1) * sw + 1],
        axes: [2, 3],
        steps: [sh, sw],
      });
      const tap = op.gemm(gt, op.reshape(xs, [c, -1]), undefined, { transB: true }); // [M, C]
      taps.push(op.unsqueeze(tap, [2]));
    }
  }
  return op.reshape(taps.length === 1 ? taps[0] : op.concat(taps, 2), [m, c, kh, kw]);
}

/**
 * dL/dx of a 2-D Conv (group 1, no dilation): the cotangent, dilated by the stride (zeros between its
 * rows/columns), correlated with the kernel flipped in space and transposed [C, M, kh, kw], with
 * "full" padding; rows/columns that fell into the forward padding are cut off.
 */
function convInputGrad(
  x: Value,
  w: Value,
  g: Value,
  strides: readonly number[],
  pads: readonly number[],
): Value {
  const [, , h, wd] = x.shape;
  const [, , kh, kw] = w.shape;
  const [ho, wo] = g.shape.slice(2);
  const [sh, sw] = strides;
  // dilate: [N, M, Ho, Wo] -> [N, M, Ho, sh, Wo, sw] (zeros after each value) -> [N, M, Ho*sh, Wo*sw]
  let gd = g;
  if (sh > 1 || sw > 1) {
    const six = op.reshape(g, [0, 0, ho, 1, wo, 1]);
    gd = op.reshape(op.pad(six, [0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1], 0), [0, 0, ho * sh, wo * sw]);
  }
  // gd's rows beyond (Ho-1)*sh+1 are zeros; the padded input spans H + top + bottom rows
  const fullH = h + pads[0] + pads[2];
  const fullW = wd + pads[1] + pads[3];
  const rev = (k: number) =>
    op.constant(
      x.graph,
      Tensor.from(
        "int64",
        [k],
        Array.from({ length: k }, (_, i) => k - 1 - i),
      ),
    );
  const wt = op.gather(op.gather(op.transpose(w, [1, 0, 2, 3]), rev(kh), 2), rev(kw), 3);
  // correlation over [kh-1 zeros, gd, zeros] gives the gradient of the padded input (fullH x fullW)
  const endH = fullH - gd.shape[2];
  const endW = fullW - gd.shape[3];
  // where the forward padding is small enough, start the output at the input's first row/column directly
  const top = kh - 1 - pads[0];
  const left = kw - 1 - pads[1];
  const bottom = endH - pads[2];
  const right = endW - pads[3];
  if (top >= 0 && left >= 0 && bottom >= 0 && right >= 0)
    return op.conv(gd, wt, undefined, { pads: [top, left, bottom, right] });
  // otherwise: the gradient of the whole padded input, then its interior
  let span = gd;
  if (endH < 0 || endW < 0) span = op.slice(span, { starts: [0, 0], ends: [fullH, fullW], axes: [2, 3] });
  const full = op.conv(span, wt, undefined, {
    pads: [kh - 1, kw - 1, Math.max(endH, 0), Math.max(endW, 0)],
  });
  return op.slice(full, { starts: [pads[0], pads[1]], ends: [pads[0] + h, pads[1] + wd], axes: [2, 3] });
}

function reducedShape(n: Node): number[] {
  const x = n.inputs[0];
  const axes = ints(n.attrs, "axes", n.op).map((a) => (a < 0 ? a + x.rank : a));
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceBack(n: Node, g: Value, scale: number): Value {
  const x = n.inputs[0];
  const gk = op.reshape(g, reducedShape(n));
  return op.expand(scale === 1 ? gk : op.mul(gk, scale), x.shape);
}

/** Ops whose outputs carry no gradient (integer/boolean results, constants). */
const NON_DIFFERENTIABLE = new Set([
  "Constant",
  "Equal",
  "Less",
  "Greater",
  "LessOrEqual",
  "GreaterOrEqual",
  "And",
  "Or",
  "Not",
  "Floor",
  "Ceil",
  "Sign",
]);

export function isDifferentiable(opName: string): boolean {
  return opName in RULES && !NON_DIFFERENTIABLE.has(opName);
}

/**
 * Gradients of a scalar `loss` with respect to `wrt` (parameters or inputs), appended to the loss's
 * graph. A value that does not influence the loss gets a zero gradient.
 */
export function gradients(loss: Value, wrt: readonly Value[], seed?: Value): Value[] {
  if (loss.shape.reduce((a, b) => a * b, 1) !== 1 && !seed)
    throw new Error(`gradients: loss ${loss} is not a scalar; pass a seed`);
  return backprop(loss, wrt, seed, loss.graph.liveNodes([loss]));
}

/** Reverse pass over `nodes` (topologically ordered, ending at `loss`). */
function backprop(
  loss: Value,
  wrt: readonly Value[],
  seed: Value | undefined,
  nodes: readonly Node[],
): Value[] {
  const graph = loss.graph;
  // values that depend on a wrt value: only those need cotangents
  const active = new Set<Value>(wrt);
  for (const n of nodes) {
    if (NON_DIFFERENTIABLE.has(n.op)) continue;
    if (n.inputs.some((x) => active.has(x))) for (const o of n.outputs) active.add(o);
  }
  const ct = new Map<Value, Value>();
  const accumulate = (v: Value, g: Value) => {
    const prev = ct.get(v);
    ct.set(v, prev ? op.add(prev, g) : g);
  };
  ct.set(loss, seed ?? op.constant(graph, Tensor.from(loss.dtype, loss.shape, [1])));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => ct.has(o))) continue;
    const needs = n.inputs.map((x) => active.has(x));
    if (!needs.some(Boolean)) continue;
    if (n.op === "Split") {
      const axis = int(n.attrs, "axis", "Split", 0);
      accumulate(
        n.inputs[0],
        op.concat(
          n.outputs.map((o) => ct.get(o) ?? zerosLike(o)),
          axis,
        ),
      );
      continue;
    }
    const rule = RULES[n.op];
    if (!rule || NON_DIFFERENTIABLE.has(n.op))
      throw new Error(`gradients: op '${n.op}' has no gradient rule`);
    const g = ct.get(n.outputs[0])!;
    rule(n, g, needs).forEach((gi, k) => {
      if (gi && needs[k]) accumulate(n.inputs[k], gi);
    });
  }
  return wrt.map((w) => ct.get(w) ?? zerosLike(w));
}
