import { describe, expect, test } from "vitest";
import { F, Graph, gradients, interpret, isDifferentiable, op, Tensor, type Value } from "../../src";

/** Deterministic values in [lo, hi). */
function values(n: number, seed: number, lo = -1, hi = 1): number[] {
  return Array.from(
    { length: n },
    (_, i) => lo + ((((Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453) % 1) + 1) % 1) * (hi - lo),
  );
}

interface Spec {
  shapes: number[][];
  build: (g: Graph, xs: Value[]) => Value;
  /** Input value range (e.g. positive for log/sqrt). */
  range?: [number, number];
  /** Inputs that are not differentiated (e.g. integer indices are built inside `build`). */
  wrt?: number[];
}

/** Compares reverse-mode gradients with central finite differences, all in float64. */
function checkGradient(name: string, spec: Spec): void {
  const g = new Graph(name);
  const xs = spec.shapes.map((s, i) => g.input(`x${i}`, "float64", s));
  const out = spec.build(g, xs);
  const r = op.constant(
    g,
    Tensor.from(
      "float64",
      out.shape,
      values(
        out.shape.reduce((a, b) => a * b, 1),
        99,
      ),
    ),
  );
  const loss = op.reduceSum(op.mul(out, r), [...out.shape.keys()], false);
  const wrt = (spec.wrt ?? xs.map((_, i) => i)).map((i) => xs[i]);
  const grads = gradients(loss, wrt);
  g.output("loss", loss);
  for (const [i, gr] of grads.entries()) g.output(`g${i}`, gr);
  const [lo, hi] = spec.range ?? [-1, 1];
  const feeds: Record<string, Tensor> = {};
  spec.shapes.forEach((s, i) => {
    feeds[`x${i}`] = Tensor.from(
      "float64",
      s,
      values(
        s.reduce((a, b) => a * b, 1),
        i + 1,
        lo,
        hi,
      ),
    );
  });
  const res = interpret(g, feeds);
  const lossAt = (f: Record<string, Tensor>) => interpret(g, f, { fetch: [loss] })["0"].toFloat64()[0];
  const h = 1e-6;
  (spec.wrt ?? xs.map((_, i) => i)).forEach((xi, k) => {
    const analytic = res[`g${k}`].toFloat64();
    const base = feeds[`x${xi}`].toFloat64();
    let maxErr = 0;
    let maxRef = 1e-8;
    for (let e = 0; e < base.length; e++) {
      const plus = base.slice();
      const minus = base.slice();
      plus[e] += h;
      minus[e] -= h;
      const fd =
        (lossAt({
          ...feeds,
          [`x${xi}`]: new Tensor("float64", base.length ? feeds[`x${xi}`].shape : [], plus),
        }) -
          lossAt({ ...feeds, [`x${xi}`]: new Tensor("float64", feeds[`x${xi}`].shape, minus) })) /
        (2 * h);
      maxErr = Math.max(maxErr, Math.abs(fd - analytic[e]));
      maxRef = Math.max(maxRef, Math.abs(fd));
    }
    expect(maxErr / maxRef, `${name}: d/dx${xi}`).toBeLessThan(1e-6);
  });
}

const CASES: Record<string, Spec> = {
  Identity: { shapes: [[3]], build: (_g, [a]) => op.identity(a) },
  Neg: { shapes: [[3]], build: (_g, [a]) => op.neg(a) },
  Exp: { shapes: [[4]], build: (_g, [a]) => op.exp(a) },
  Log: { shapes: [[4]], build: (_g, [a]) => op.log(a), range: [0.5, 2] },
  Sqrt: { shapes: [[4]], build: (_g, [a]) => op.sqrt(a), range: [0.5, 2] },
  Reciprocal: { shapes: [[4]], build: (_g, [a]) => op.reciprocal(a), range: [0.5, 2] },
  Tanh: { shapes: [[4]], build: (_g, [a]) => op.tanh(a) },
  Sigmoid: { shapes: [[4]], build: (_g, [a]) => op.sigmoid(a) },
  Sin: { shapes: [[4]], build: (_g, [a]) => op.sin(a) },
  Cos: { shapes: [[4]], build: (_g, [a]) => op.cos(a) },
  Relu: { shapes: [[6]], build: (_g, [a]) => op.relu(a) },
  Abs: { shapes: [[6]], build: (_g, [a]) => op.abs(a) },
  Erf: { shapes: [[5]], build: (_g, [a]) => op.erf(a) },
  Add: { shapes: [[2, 3], [3]], build: (_g, [a, b]) => op.add(a, b) },
  Sub: {
    shapes: [
      [2, 1],
      [1, 3],
    ],
    build: (_g, [a, b]) => op.sub(a, b),
  },
  Mul: {
    shapes: [
      [2, 3],
      [2, 1],
    ],
    build: (_g, [a, b]) => op.mul(a, b),
  },
  Div: { shapes: [[2, 3], [3]], build: (_g, [a, b]) => op.div(a, b), range: [0.5, 2] },
  Pow: { shapes: [[3], [3]], build: (_g, [a, b]) => op.pow(a, b), range: [0.5, 2] },
  Max: { shapes: [[4], [4]], build: (_g, [a, b]) => op.maximum(a, b) },
  Min: { shapes: [[4], [4]], build: (_g, [a, b]) => op.minimum(a, b) },
  Where: { shapes: [[4], [4]], build: (_g, [a, b]) => op.where(op.greater(a, b), op.mul(a, 2), b) },
  Cast: { shapes: [[3]], build: (_g, [a]) => op.cast(op.cast(a, "float32"), "float64") },
  MatMul: {
    shapes: [
      [2, 3, 4],
      [4, 2],
    ],
    build: (_g, [a, b]) => op.matmul(a, b),
  },
  Softmax: { shapes: [[2, 5]], build: (_g, [a]) => op.softmax(a, -1) },
  FastGelu: { shapes: [[2, 5], [5]], build: (_g, [a, b]) => op.fastGelu(op.mul(a, 3), b) },
  MultiHeadAttention: {
    shapes: [
      [2, 3, 4],
      [2, 5, 4],
      [2, 5, 6],
    ],
    build: (_g, [q, k, v]) => op.multiHeadAttention(op.mul(q, 2), k, v, 2),
  },
  MultiHeadAttentionSelf: {
    // one value as q, k and v: its cotangent is the sum over the three uses, counted once
    shapes: [[1, 4, 6]],
    build: (_g, [x]) => op.multiHeadAttention(x, op.mul(x, 2), x, 3, 0.7),
  },
  LayerNormalization: {
    shapes: [[2, 6], [6], [6]],
    build: (_g, [x, s, b]) => op.layerNormalization(x, s, b, 1e-5, -1),
  },
  Reshape: { shapes: [[2, 6]], build: (_g, [a]) => op.reshape(a, [3, -1]) },
  Unsqueeze: { shapes: [[3]], build: (_g, [a]) => op.mul(op.unsqueeze(a, [0]), op.unsqueeze(a, [1])) },
  Squeeze: { shapes: [[1, 3]], build: (_g, [a]) => op.squeeze(a, [0]) },
  Expand: { shapes: [[3, 1]], build: (_g, [a]) => op.expand(a, [2, 3, 4]) },
  Transpose: { shapes: [[2, 3, 4]], build: (_g, [a]) => op.transpose(a, [2, 0, 1]) },
  Concat: {
    shapes: [
      [2, 2],
      [2, 3],
    ],
    build: (_g, [a, b]) => op.concat([a, op.mul(b, b)], 1),
  },
  Split: {
    shapes: [[2, 5]],
    build: (_g, [a]) => {
      const [p, q] = op.split(a, [2, 3], 1);
      return op.concat([op.mul(q, 3), op.exp(p)], 1);
    },
  },
  Slice: {
    shapes: [[4, 5]],
    build: (_g, [a]) => op.slice(a, { starts: [1, -3], ends: [3, 100], axes: [0, 1] }),
  },
  Gather: {
    shapes: [[5, 3]],
    build: (g, [a]) => op.gather(a, op.constant(g, Tensor.from("int64", [2, 2], [4, 0, 4, 2])), 0),
  },
  ReduceSum: { shapes: [[2, 3, 4]], build: (_g, [a]) => op.reduceSum(a, [0, 2], false) },
  ReduceMean: { shapes: [[2, 3, 4]], build: (_g, [a]) => op.reduceMean(a, [1], true) },
  ReduceMax: { shapes: [[3, 4]], build: (_g, [a]) => op.reduceMax(a, [1], false) },
  Conv: {
    shapes: [[2, 3, 6, 6], [4, 3, 3, 3], [4]],
    build: (_g, [x, w, b]) => op.conv(x, w, b, { strides: [2, 2], pads: [1, 1, 0, 0] }),
    wrt: [1, 2],
  },
  ConvInput: {
    shapes: [[2, 3, 5, 5], [4, 3, 3, 3], [4]],
    build: (_g, [x, w, b]) => op.conv(x, w, b, { pads: [1, 1, 1, 1] }),
  },
  ConvInputStrided: {
    shapes: [[1, 2, 7, 6], [3, 2, 3, 2], [3]],
    build: (_g, [x, w, b]) => op.conv(x, w, b, { strides: [2, 3], pads: [1, 0, 0, 1] }),
  },
  ConvInputLargePad: {
    // forward padding wider than the kernel: the gradient takes the interior of a full correlation
    shapes: [[1, 2, 3, 3], [2, 2, 2, 2], [2]],
    build: (_g, [x, w, b]) => op.conv(x, w, b, { strides: [2, 2], pads: [2, 3, 2, 1] }),
  },
  ConvPatchify: {
    shapes: [[1, 2, 4, 4], [3, 2, 2, 2], [3]],
    build: (_g, [x, w, b]) => op.conv(x, w, b, { strides: [2, 2] }),
    wrt: [1, 2],
  },
};

describe("reverse-mode gradients match finite differences (float64 interpreter)", () => {
  test.each(Object.keys(CASES))("%s", (name) => checkGradient(name, CASES[name]));

  test("every op with a gradient rule has a finite-difference case", () => {
    const ops = [
      "Identity",
      "Neg",
      "Exp",
      "Log",
      "Sqrt",
      "Reciprocal",
      "Tanh",
      "Sigmoid",
      "Sin",
      "Cos",
      "Relu",
      "Abs",
      "Erf",
      "Add",
      "Sub",
      "Mul",
      "Div",
      "Pow",
      "Max",
      "Min",
      "Where",
      "Cast",
      "MatMul",
      "Softmax",
      "FastGelu",
      "MultiHeadAttention",
      "LayerNormalization",
      "Reshape",
      "Unsqueeze",
      "Squeeze",
      "Expand",
      "Transpose",
      "Concat",
      "Slice",
      "Gather",
      "ReduceSum",
      "ReduceMean",
      "ReduceMax",
      "Conv",
    ];
    for (const o of ops) {
      expect(isDifferentiable(o), o).toBe(true);
      expect(CASES[o], o).toBeDefined();
    }
  });

  test("composites: GELU (tanh), SiLU, group norm, attention", () => {
    checkGradient("gelu", { shapes: [[6]], build: (_g, [a]) => F.gelu(op.mul(a, 3), "tanh") });
    checkGradient("silu", { shapes: [[6]], build: (_g, [a]) => F.silu(op.mul(a, 3)) });
    checkGradient("groupNorm", {
      shapes: [[2, 4, 2, 2], [4], [4]],
      build: (_g, [x, w, b]) => F.groupNorm(x, 2, 1e-5, w, b),
    });
    checkGradient("sdpa", {
      shapes: [
        [1, 3, 4],
        [1, 3, 4],
        [1, 3, 4],
      ],
      build: (_g, [q, k, v]) => F.scaledDotProductAttention(q, k, v),
    });
  });

  test("values the loss does not depend on get zero gradients; integer ops refuse", () => {
    const g = new Graph();
    const a = g.input("a", "float64", [2]);
    const b = g.input("b", "float64", [2]);
    const loss = op.reduceSum(op.mul(a, a), [0], false);
    const [, gb] = gradients(loss, [a, b]);
    g.output("gb", gb);
    expect([
      ...interpret(g, {
        a: Tensor.from("float64", [2], [1, 2]),
        b: Tensor.from("float64", [2], [3, 4]),
      }).gb.toFloat64(),
    ]).toEqual([0, 0]);
    expect(() => gradients(op.mul(a, 1), [a])).toThrow(/not a scalar/);
  });
});
