import * as ort from "onnxruntime-node";
import { describe, expect, test } from "vitest";
import {
  decodeModel,
  F,
  Graph,
  halfWeights,
  interpret,
  nn,
  op,
  Scope,
  Tensor,
  toHalfPrecision,
  toOnnx,
} from "../../src";
import { sinWeights } from "../sinWeights";

function block(): { g: Graph; weights: Map<string, Tensor> } {
  const g = new Graph("block");
  const x = g.input("x", "float32", [1, 8, 32], { 0: "batch" });
  const s = new Scope(g);
  const h = op.add(x, nn.attention(s.child("attn"), F.layerNorm(x, 1e-6), 4));
  g.output(
    "y",
    op.add(
      h,
      nn.linear(s.child("fc2"), F.gelu(nn.linear(s.child("fc1"), F.layerNorm(h, 1e-6), 64), "tanh"), 32),
    ),
    { 0: "batch" },
  );
  return { g, weights: sinWeights(g, { scale: 0.2, freq: 3 }) };
}

describe("float16 emission", () => {
  test("weights are stored as float16, sensitive ops stay float32, and ORT matches the float32 oracle", async () => {
    const { g, weights } = block();
    const half = toHalfPrecision(g);
    const bytes = toOnnx(half, { weights: halfWeights(weights) });
    const model = decodeModel(bytes);
    const fc1 = model.graph.initializer!.find((t) => t.name === "fc1.weight")!;
    expect(fc1.dataType).toBe(10); // FLOAT16
    const ln = model.graph.node.filter((n) => n.opType === "LayerNormalization");
    expect(ln.length).toBe(2);
    // every LayerNormalization input is produced by a Cast to float32
    const producers = new Map(model.graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
    for (const n of ln) expect(producers.get(n.input[0])?.opType).toBe("Cast");
    expect(model.graph.input[0].type?.tensorType?.elemType).toBe(1); // float32 interface

    const x = Tensor.from(
      "float32",
      [1, 8, 32],
      Array.from({ length: 256 }, (_, i) => Math.cos(i * 0.7)),
    );
    const ref = interpret(g, { x }, { weights }).y.toFloat64();
    const session = await ort.InferenceSession.create(bytes);
    const got = (await session.run({ x: new ort.Tensor("float32", x.data as Float32Array, [1, 8, 32]) })).y
      .data as Float32Array;
    let maxRef = 0;
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
      maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i]));
    }
    // float16 has a 2^-11 relative step; a block accumulates a few of them
    expect(maxDiff / maxRef).toBeLessThan(1e-2);
    expect(maxDiff / maxRef).toBeGreaterThan(0); // it really ran in reduced precision
  });
});
