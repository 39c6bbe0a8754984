// End-to-end: hand-built models, encoded here, run by onnxruntime-node.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { DTYPES } from "../../src/dtype";
import {
  decodeModel,
  dtypeToOnnx,
  encodeModel,
  type GraphProto,
  OnnxDataType as DT,
  tensorFromProto,
  tensorToProto,
} from "../../src/index";
import { Tensor } from "../../src/tensor";
import { matmulBias, modelOf, randomFloats, tensorInfo } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "flowturbo-onnx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (data: Float32Array | number[], dims: number[]) =>
  new ort.Tensor("float32", Float32Array.from(data), dims);

/** MatMul with an initializer plus a bias, on a dynamic batch dimension. */
function matmulGraph(w: Tensor, b: Tensor): GraphProto {
  return {
    name: "matmul",
    node: [
      { opType: "MatMul", input: ["x", "W"], output: ["xw"], name: "mm" },
      { opType: "Add", input: ["xw", "b"], output: ["y"], name: "bias" },
    ],
    initializer: [tensorToProto("W", w), tensorToProto("b", b)],
    input: [tensorInfo("x", DT.FLOAT, ["batch", 4])],
    output: [tensorInfo("y", DT.FLOAT, ["batch", 3])],
  };
}

describe("onnxruntime-node runs encoded models", () => {
  it("Add of two inputs plus a float16 initializer cast to float", async () => {
    const half = Tensor.from("float16", [2, 3], [0.1, 0.2, 0.3, -1, 1000.5, 3]);
    const bytes = encodeModel(
      modelOf({
        name: "add_cast",
        node: [
          { opType: "Cast", input: ["h"], output: ["hf"], attribute: [{ name: "to", i: DT.FLOAT }] },
          { opType: "Add", input: ["x", "y"], output: ["s"] },
          { opType: "Add", input: ["s", "hf"], output: ["out"] },
        ],
        initializer: [tensorToProto("h", half)],
        input: [tensorInfo("x", DT.FLOAT, [2, 3]), tensorInfo("y", DT.FLOAT, [2, 3])],
        output: [tensorInfo("out", DT.FLOAT, [2, 3])],
      }),
    );
    const session = await ort.InferenceSession.create(bytes);
    const x = [1, 2, 3, 4, 5, 6];
    const y = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    const { out } = await session.run({ x: f32(x, [2, 3]), y: f32(y, [2, 3]) });
    const h = half.toFloat32();
    expect(out.dims).toEqual([2, 3]);
    expect(Array.from(out.data as Float32Array)).toEqual(
      x.map((v, i) => Math.fround(Math.fround(v + y[i]) + h[i])),
    );
  });

  it("MatMul with initializers and a dynamic batch dim_param", async () => {
    const w = Tensor.from("float32", [4, 3], randomFloats(12, 1));
    const b = Tensor.from("float32", [3], [0.5, -0.5, 1]);
    const session = await ort.InferenceSession.create(encodeModel(modelOf(matmulGraph(w, b))));
    const meta = session.inputMetadata[0];
    expect(meta.isTensor && meta.shape).toEqual(["batch", 4]);
    for (const batch of [1, 5]) {
      const x = randomFloats(batch * 4, batch);
      const { y } = await session.run({ x: f32(x, [batch, 4]) });
      expect(y.dims).toEqual([batch, 3]);
      const expected = matmulBias(x, w.data, b.data, batch, 4, 3);
      (y.data as Float32Array).forEach((v, i) => {
        expect(v).toBeCloseTo(expected[i], 5);
      });
    }
  });

  it("attributes of every kind ORT consumes: INT(S), FLOAT(S), STRING, TENSOR, GRAPH", async () => {
    const branch = (name: string, opType: string, inputs: string[]): GraphProto => ({
      name,
      node: [{ opType, input: inputs, output: [`${name}_out`] }],
      input: [],
      output: [tensorInfo(`${name}_out`, DT.FLOAT, [2, 3])],
    });
    const bytes = encodeModel(
      modelOf({
        name: "attrs",
        node: [
          { opType: "Transpose", input: ["x"], output: ["xt"], attribute: [{ name: "perm", ints: [1, 0] }] },
          {
            opType: "Gemm",
            input: ["x", "W", "bias"],
            output: ["g"],
            attribute: [
              { name: "alpha", f: 0.5 },
              { name: "transB", i: 1 },
            ],
          },
          { opType: "Pad", input: ["x", "pads"], output: ["p"], attribute: [{ name: "mode", s: "reflect" }] },
          {
            opType: "Constant",
            input: [],
            output: ["c1"],
            attribute: [{ name: "value", t: tensorToProto("", Tensor.from("float32", [2], [1, 2])) }],
          },
          {
            opType: "Constant",
            input: [],
            output: ["c2"],
            attribute: [{ name: "value_floats", floats: [3, 4] }],
          },
          { opType: "Add", input: ["c1", "c2"], output: ["cs"] },
          {
            opType: "If",
            input: ["cond"],
            output: ["branch"],
            attribute: [
              { name: "then_branch", g: branch("then", "Add", ["x", "x"]) },
              { name: "else_branch", g: branch("else", "Neg", ["x"]) },
            ],
          },
        ],
        initializer: [
          tensorToProto("W", Tensor.from("float32", [1, 3], [1, 1, 1])),
          tensorToProto("bias", Tensor.from("float32", [1], [10])),
          tensorToProto("pads", Tensor.from("int64", [4], [0, 1, 0, 1])),
        ],
        input: [tensorInfo("x", DT.FLOAT, [2, 3]), tensorInfo("cond", DT.BOOL, [])],
        output: [
          tensorInfo("xt", DT.FLOAT, [3, 2]),
          tensorInfo("g", DT.FLOAT, [2, 1]),
          tensorInfo("p", DT.FLOAT, [2, 5]),
          tensorInfo("cs", DT.FLOAT, [2]),
          tensorInfo("branch", DT.FLOAT, [2, 3]),
        ],
      }),
    );
    const session = await ort.InferenceSession.create(bytes);
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    const run = async (cond: boolean) => session.run({ x, cond: new ort.Tensor("bool", [cond], []) });
    const r = await run(true);
    expect(Array.from(r.xt.data as Float32Array)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(r.g.data as Float32Array)).toEqual([13, 17.5]);
    expect(Array.from(r.p.data as Float32Array)).toEqual([2, 1, 2, 3, 2, 5, 4, 5, 6, 5]);
    expect(Array.from(r.cs.data as Float32Array)).toEqual([4, 6]);
    expect(Array.from(r.branch.data as Float32Array)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(Array.from((await run(false)).branch.data as Float32Array)).toEqual([-1, -2, -3, -4, -5, -6]);
  });

  it("initializers of every dtype come back bit-exact through Identity", async () => {
    const values = [0, 1, 2, 3, 100, 5];
    const tensors = DTYPES.map((d) => Tensor.from(d, [3, 2], d === "bool" ? [1, 0, 1, 1, 0, 0] : values));
    const bytes = encodeModel(
      modelOf({
        name: "dtypes",
        node: DTYPES.map((d) => ({ opType: "Identity", input: [`c_${d}`], output: [`out_${d}`] })),
        initializer: tensors.map((t) => tensorToProto(`c_${t.dtype}`, t)),
        input: [],
        output: DTYPES.map((d) => tensorInfo(`out_${d}`, dtypeToOnnx(d), [3, 2])),
      }),
    );
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({});
    for (const t of tensors) {
      const o = out[`out_${t.dtype}`];
      expect(o.dims).toEqual([3, 2]);
      expect(
        Array.from(o.data as ArrayLike<number | bigint | boolean>, (v) =>
          v === true ? 1 : v === false ? 0 : v,
        ),
      ).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });

  it("decodes the model ORT itself serializes, and that decoded model re-encodes and runs", async () => {
    const w = Tensor.from("float32", [4, 3], randomFloats(12, 7));
    const b = Tensor.from("float32", [3], [1, 2, 3]);
    const optimized = join(dir, "optimized.onnx");
    await ort.InferenceSession.create(encodeModel(modelOf(matmulGraph(w, b))), {
      graphOptimizationLevel: "basic",
      optimizedModelFilePath: optimized,
    });
    const m = decodeModel(readFileSync(optimized));
    expect(m.irVersion).toBe(10);
    expect(m.opsetImport.find((o) => !o.domain)?.version).toBe(18);
    expect(m.graph.input[0].type?.tensorType?.shape?.dim).toEqual([{ dimParam: "batch" }, { dimValue: 4 }]);
    expect(m.graph.node.map((n) => n.opType)).toEqual(["Gemm"]); // ORT fused MatMul + Add
    const W = m.graph.initializer?.find((t) => t.name === "W");
    expect(W && tensorFromProto(W).data).toEqual(w.data);

    const session = await ort.InferenceSession.create(encodeModel(m));
    const x = randomFloats(8, 3);
    const { y } = await session.run({ x: f32(x, [2, 4]) });
    const expected = matmulBias(x, w.data, b.data, 2, 4, 3);
    (y.data as Float32Array).forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i], 5);
    });
  });

  it("ORT rejects a truncated model, and so does decodeModel", async () => {
    const bytes = encodeModel(
      modelOf(matmulGraph(Tensor.zeros("float32", [4, 3]), Tensor.zeros("float32", [3]))),
    );
    const cut = bytes.subarray(0, bytes.length - 20);
    await expect(ort.InferenceSession.create(cut)).rejects.toThrow();
    expect(() => decodeModel(cut)).toThrow(/invalid ONNX model/);
  });
});
