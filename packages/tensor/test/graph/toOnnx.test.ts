import * as ort from "onnxruntime-node";
import { describe, expect, test } from "vitest";
import { decodeModel, F, Graph, interpret, nn, op, Scope, Tensor, toOnnx } from "../../src";
import { sinWeights } from "../sinWeights";

function ortFeeds(feeds: Record<string, Tensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds))
    out[k] = new ort.Tensor(t.dtype as "float32", t.data as Float32Array, [...t.shape]);
  return out;
}

describe("ONNX emission", () => {
  test("a small model runs in ORT CPU like the interpreter, with a dynamic batch", async () => {
    const g = new Graph("mlp");
    const x = g.input("x", "float32", [2, 8], { 0: "batch" });
    const s = new Scope(g);
    g.output("y", nn.linear(s.child("fc2"), F.gelu(nn.linear(s.child("fc1"), x, 16), "tanh"), 4), {
      0: "batch",
    });
    const weights = sinWeights(g, { scale: 0.3 });
    const bytes = toOnnx(g, { weights });
    const model = decodeModel(bytes);
    expect(model.graph.input[0].type?.tensorType?.shape?.dim[0].dimParam).toBe("batch");
    expect(model.graph.initializer?.map((t) => t.name).sort()).toEqual([
      "fc1.bias",
      "fc1.weight",
      "fc2.bias",
      "fc2.weight",
    ]);
    const session = await ort.InferenceSession.create(bytes);
    for (const batch of [2, 5]) {
      const xv = Tensor.from(
        "float32",
        [batch, 8],
        Array.from({ length: batch * 8 }, (_, i) => Math.cos(i)),
      );
      // the interpreter needs a graph of that batch size: rebuild-free check through row-wise equality
      const got = (await session.run(ortFeeds({ x: xv }))).y;
      expect(got.dims).toEqual([batch, 4]);
      if (batch === 2) {
        const ref = interpret(g, { x: xv }, { weights }).y.toFloat64();
        const d = got.data as Float32Array;
        for (let i = 0; i < ref.length; i++) expect(Math.abs(d[i] - ref[i])).toBeLessThan(1e-5);
      }
    }
  });

  test("fused ops are emitted in the com.microsoft domain and run in ORT CPU like the interpreter", async () => {
    const g = new Graph("fused");
    const x = g.input("x", "float32", [2, 6, 8], { 0: "batch" });
    const s = new Scope(g);
    const a = nn.attention(s.child("attn"), x, 2, { form: "fused" });
    const h = op.fastGelu(nn.linear(s.child("fc"), a, 8, { bias: false }), s.param("fc.bias", [8]));
    g.output("y", h, { 0: "batch" });
    const weights = sinWeights(g, { scale: 0.4 });
    const bytes = toOnnx(g, { weights });
    const model = decodeModel(bytes);
    expect(model.opsetImport).toEqual([
      { domain: "", version: 18 },
      { domain: "com.microsoft", version: 1 },
    ]);
    const fused = model.graph.node.filter((n) => n.domain === "com.microsoft").map((n) => n.opType);
    expect(fused).toEqual(["MultiHeadAttention", "FastGelu"]);
    // a plain graph imports the default domain only
    const p = new Graph("plain");
    p.output("y", F.gelu(p.input("x", "float32", [3]), "tanh"));
    expect(decodeModel(toOnnx(p)).opsetImport).toEqual([{ domain: "", version: 18 }]);
    const xv = Tensor.from(
      "float32",
      [2, 6, 8],
      Array.from({ length: 96 }, (_, i) => Math.cos(i * 0.7)),
    );
    const session = await ort.InferenceSession.create(bytes);
    const got = (await session.run(ortFeeds({ x: xv }))).y.data as Float32Array;
    const ref = interpret(g, { x: xv }, { weights }).y.toFloat64();
    for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-5);
  });

  test("outputs that are inputs or shared values get their own names; missing weights are named", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [3]);
    g.output("same", x);
    const y = op.mul(x, 2);
    g.output("a", y);
    g.output("b", y);
    const m = decodeModel(toOnnx(g));
    expect(m.graph.output.map((o) => o.name)).toEqual(["same", "a", "b"]);
    expect(m.graph.node.filter((n) => n.opType === "Identity").length).toBe(3);
    const h = new Graph();
    h.output("z", op.add(h.input("x", "float32", [3]), h.param("w", [3])));
    expect(() => toOnnx(h)).toThrow(/missing weight for parameter 'w'/);
  });
});
