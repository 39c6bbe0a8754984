import { describe, expect, test } from "vitest";
import { F, Graph, interpret, nn, op, Scope, Tensor } from "../../src";

const t32 = (shape: number[], values: number[]) => Tensor.from("float32", shape, values);
const range = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));

function run(
  build: (g: Graph) => void,
  feeds: Record<string, Tensor> = {},
  weights = {},
): Record<string, Tensor> {
  const g = new Graph();
  build(g);
  return interpret(g, feeds, { weights });
}

describe("reference interpreter", () => {
  test("broadcasting elementwise ops and lifted scalars", () => {
    const out = run(
      (g) => {
        const a = g.input("a", "float32", [2, 3]);
        const b = g.input("b", "float32", [3]);
        g.output("y", op.sub(op.mul(op.add(a, b), 2), 1));
      },
      { a: t32([2, 3], [1, 2, 3, 4, 5, 6]), b: t32([3], [10, 20, 30]) },
    );
    expect([...out.y.toFloat64()]).toEqual([21, 43, 65, 27, 49, 71]);
    expect(out.y.dtype).toBe("float64");
  });

  test("matmul with batch broadcasting matches a hand product", () => {
    const a = range(2 * 2 * 3, (i) => i - 5);
    const b = range(3 * 2, (i) => (i % 3) - 1);
    const out = run(
      (g) => {
        g.output("y", op.matmul(g.input("a", "float32", [2, 2, 3]), g.input("b", "float32", [3, 2])));
      },
      { a: t32([2, 2, 3], a), b: t32([3, 2], b) },
    );
    const expected: number[] = [];
    for (let bt = 0; bt < 2; bt++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++) {
          let s = 0;
          for (let k = 0; k < 3; k++) s += a[bt * 6 + i * 3 + k] * b[k * 2 + j];
          expected.push(s);
        }
    expect(out.y.shape).toEqual([2, 2, 2]);
    expect([...out.y.toFloat64()]).toEqual(expected);
  });

  test("reshape with 0 and -1, transpose, slice, split, concat, gather", () => {
    const x = t32([2, 3, 4], range(24));
    const out = run(
      (g) => {
        const v = g.input("x", "float32", [2, 3, 4]);
        g.output("r", op.reshape(v, [0, -1]));
        g.output("t", op.transpose(v, [2, 0, 1]));
        g.output("s", op.slice(v, { starts: [1, -2], ends: [3, 100], axes: [1, 2], steps: [1, 1] }));
        const [p, q] = op.split(v, [1, 3], 2);
        g.output("c", op.concat([q, p], 2));
        g.output("gi", op.gather(v, op.constant(g, Tensor.from("int64", [2], [2, -3])), 1));
      },
      { x },
    );
    expect(out.r.shape).toEqual([2, 12]);
    expect(out.t.shape).toEqual([4, 2, 3]);
    expect([...out.t.toFloat64()].slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
    expect([...out.s.toFloat64()]).toEqual([6, 7, 10, 11, 18, 19, 22, 23]);
    expect([...out.c.toFloat64()].slice(0, 4)).toEqual([1, 2, 3, 0]);
    expect([...out.gi.toFloat64()].slice(0, 8)).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
  });

  test("softmax rows sum to one; layer norm and group norm normalize", () => {
    const x = t32(
      [2, 4, 2, 2],
      range(32, (i) => Math.sin(i) * 3),
    );
    const out = run(
      (g) => {
        const v = g.input("x", "float32", [2, 4, 2, 2]);
        g.output("sm", op.softmax(v, 1));
        g.output("ln", F.layerNorm(v, 0));
        g.output("gn", F.groupNorm(v, 2, 0));
      },
      { x },
    );
    const sm = out.sm.toFloat64();
    expect(sm[0] + sm[4] + sm[8] + sm[12]).toBeCloseTo(1, 12);
    const ln = out.ln.toFloat64();
    expect(ln[0] + ln[1]).toBeCloseTo(0, 12);
    expect((ln[0] ** 2 + ln[1] ** 2) / 2).toBeCloseTo(1, 10);
    const gn = out.gn.toFloat64().slice(0, 8);
    const mean = gn.reduce((a, b) => a + b, 0) / 8;
    expect(mean).toBeCloseTo(0, 12);
    expect(gn.reduce((a, b) => a + (b - mean) ** 2, 0) / 8).toBeCloseTo(1, 10);
  });

  test("conv2d with padding and stride equals a direct sum; 1x1 conv equals matmul", () => {
    const x = t32(
      [1, 2, 4, 4],
      range(32, (i) => (i * 7) % 5),
    );
    const w = t32(
      [3, 2, 3, 3],
      range(54, (i) => ((i * 3) % 7) - 3),
    );
    const out = run(
      (g) => {
        const s = new Scope(g, "c");
        g.output(
          "y",
          nn.conv2d(s, g.input("x", "float32", [1, 2, 4, 4]), 3, { kernel: 3, stride: 2, padding: 1 }),
        );
      },
      { x },
      { "c.weight": w, "c.bias": t32([3], [1, 2, 3]) },
    );
    expect(out.y.shape).toEqual([1, 3, 2, 2]);
    // output (m=1, oh=1, ow=0): input rows 1..3, cols -1..1
    let s = 2;
    for (let c = 0; c < 2; c++)
      for (let kh = 0; kh < 3; kh++)
        for (let kw = 0; kw < 3; kw++) {
          const ih = 1 + kh;
          const iw = -1 + kw;
          if (ih < 4 && iw >= 0) s += x.data[(c * 4 + ih) * 4 + iw] * w.data[((1 * 2 + c) * 3 + kh) * 3 + kw];
        }
    expect(out.y.toFloat64()[1 * 4 + 2]).toBe(s);
  });

  test("pools: average excludes padding by default; max", () => {
    const x = t32([1, 1, 2, 2], [1, 2, 3, 4]);
    const out = run(
      (g) => {
        const v = g.input("x", "float32", [1, 1, 2, 2]);
        g.output("avg", op.averagePool(v, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }));
        g.output(
          "avgInc",
          op.averagePool(v, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], countIncludePad: true }),
        );
        g.output("max", op.maxPool(v, { kernel: [2, 2], strides: [1, 1] }));
      },
      { x },
    );
    expect([...out.avg.toFloat64()]).toEqual([2.5, 2.5, 2.5, 2.5]);
    expect([...out.avgInc.toFloat64()]).toEqual([10 / 9, 10 / 9, 10 / 9, 10 / 9]);
    expect([...out.max.toFloat64()]).toEqual([4]);
  });

  test("resize linear half_pixel matches PyTorch align_corners=False", () => {
    const out = run(
      (g) => {
        g.output("y", op.resize(g.input("x", "float32", [1, 1, 1, 2]), [1, 1, 1, 4], { mode: "linear" }));
      },
      { x: t32([1, 1, 1, 2], [0, 1]) },
    );
    expect([...out.y.toFloat64()]).toEqual([0, 0.25, 0.75, 1]);
  });

  test("attention module: uniform keys give the mean of the values", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [1, 3, 4]);
    g.output("y", nn.attention(new Scope(g, "attn"), x, 2));
    // qkv weight zero for q and k -> uniform attention; v = identity; proj = identity
    const qkv = new Float32Array(12 * 4);
    for (let i = 0; i < 4; i++) qkv[(8 + i) * 4 + i] = 1;
    const eye = new Float32Array(16);
    for (let i = 0; i < 4; i++) eye[i * 4 + i] = 1;
    const xv = range(12, (i) => i);
    const out = interpret(
      g,
      { x: t32([1, 3, 4], xv) },
      {
        weights: {
          "attn.qkv.weight": new Tensor("float32", [12, 4], qkv),
          "attn.qkv.bias": Tensor.zeros("float32", [12]),
          "attn.proj.weight": new Tensor("float32", [4, 4], eye),
          "attn.proj.bias": Tensor.zeros("float32", [4]),
        },
      },
    );
    expect([...out.y.toFloat64()].slice(0, 4)).toEqual([4, 5, 6, 7]);
    expect(g.parameterCount()).toBe(12 * 4 + 12 + 16 + 4);
  });

  test("fused ops equal their plain forms: FastGelu, MultiHeadAttention, nn.attention", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2, 3, 4]);
    const b = g.input("b", "float32", [4]);
    const k = g.input("k", "float32", [2, 5, 4]);
    const v = g.input("v", "float32", [2, 5, 6]);
    g.output("gelu", op.fastGelu(x, b));
    g.output("geluPlain", F.gelu(op.add(x, b), "tanh"));
    g.output("mha", op.multiHeadAttention(x, k, v, 2, 0.3));
    g.output("mhaPlain", F.multiHeadAttention(x, k, v, 2, 0.3));
    g.output("attn", nn.attention(new Scope(g, "a"), x, 2, { form: "fused" }));
    g.output("attnPlain", nn.attention(new Scope(g, "a"), x, 2));
    const feed = (shape: number[], seed: number) =>
      t32(
        shape,
        range(
          shape.reduce((p, q) => p * q, 1),
          (i) => Math.sin(i * 1.7 + seed) * 2,
        ),
      );
    const weights = Object.fromEntries(
      [...g.params].map(([name, p]) => [name, feed([...p.value.shape], name.length)]),
    );
    const out = interpret(
      g,
      { x: feed([2, 3, 4], 1), b: feed([4], 2), k: feed([2, 5, 4], 3), v: feed([2, 5, 6], 4) },
      { weights },
    );
    for (const [name, tol] of [
      ["gelu", 1e-12],
      ["mha", 1e-12],
      ["attn", 1e-12],
    ] as const) {
      const a = out[name].toFloat64();
      const p = out[`${name}Plain`].toFloat64();
      expect(a.length).toBe(p.length);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - p[i]), name).toBeLessThan(tol);
    }
    expect(out.mha.shape).toEqual([2, 3, 6]);
    expect(() => op.multiHeadAttention(x, k, v, 3)).toThrow(/3 heads do not divide/);
    expect(() => op.fastGelu(x, k)).toThrow(/bias .* must be \[4\]/);
  });

  test("errors name what is wrong", () => {
    const g = new Graph();
    const a = g.input("a", "float32", [2, 3]);
    expect(() => op.matmul(a, a)).toThrow(/inner dimensions differ/);
    expect(() => op.reshape(a, [4, -1])).toThrow(/cannot reshape/);
    g.output("y", op.add(a, g.param("w", [3])));
    expect(() => interpret(g, { a: t32([2, 3], range(6)) })).toThrow(/missing parameter 'w'/);
    expect(() => interpret(g, { a: t32([3, 2], range(6)) }, { weights: { w: t32([3], [1, 2, 3]) } })).toThrow(
      /expected shape \[2, 3\]/,
    );
  });
});
