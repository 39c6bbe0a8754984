import { describe, expect, it } from "vitest";
import type { DType } from "../../src/dtype";
import { toHalfBits } from "../../src/float16";
import {
  decodeModel,
  dtypeFromOnnx,
  dtypeToOnnx,
  encodeModel,
  type GraphProto,
  type ModelProto,
  OnnxAttributeType as A,
  OnnxDataType as DT,
  OnnxDataLocation,
  tensorFromProto,
  tensorToProto,
} from "../../src/index";
import { ProtoReader, ProtoWriter } from "../../src/onnx/wire";
import { Tensor } from "../../src/tensor";

const f32 = (name: string, shape: number[], values: number[]) =>
  tensorToProto(name, Tensor.from("float32", shape, values));

const subgraph = (name: string): GraphProto => ({
  name,
  node: [{ opType: "Identity", input: ["x"], output: [`${name}_out`] }],
  input: [],
  output: [{ name: `${name}_out`, type: { tensorType: { elemType: DT.FLOAT } } }],
});

/** A model touching every message, field and attribute kind the codec models. */
function everythingModel(): ModelProto {
  return {
    irVersion: 10,
    opsetImport: [
      { domain: "", version: 18 },
      { domain: "com.example", version: 1 },
    ],
    producerName: "test",
    producerVersion: "1.2.3",
    domain: "ai.flowturbo",
    modelVersion: 3,
    docString: "doc ✓",
    metadataProps: [{ key: "author", value: "me" }],
    graph: {
      name: "main",
      docString: "graph doc",
      metadataProps: [{ key: "k", value: "v" }],
      node: [
        {
          name: "n0",
          opType: "Custom",
          domain: "com.example",
          overload: "v2",
          docString: "node doc",
          input: ["x", "", "w"],
          output: ["y"],
          metadataProps: [{ key: "source", value: "line 1" }],
          attribute: [
            { name: "f", type: A.FLOAT, f: -2.5 },
            { name: "i", type: A.INT, i: -7 },
            { name: "big", type: A.INT, i: 9223372036854775807n },
            { name: "s", type: A.STRING, s: "reflect", docString: "attr doc" },
            { name: "t", type: A.TENSOR, t: f32("", [2], [1, 2]) },
            { name: "g", type: A.GRAPH, g: subgraph("then") },
            { name: "floats", type: A.FLOATS, floats: [0.5, -1, 3] },
            { name: "ints", type: A.INTS, ints: [1, -1, 2 ** 40, -(2n ** 63n)] },
            { name: "strings", type: A.STRINGS, strings: ["a", "", "ü"] },
            { name: "tensors", type: A.TENSORS, tensors: [f32("a", [], [1]), f32("b", [1, 0], [])] },
            { name: "graphs", type: A.GRAPHS, graphs: [subgraph("g1"), subgraph("g2")] },
            { name: "ref", type: A.FLOAT, refAttrName: "alpha" },
          ],
        },
      ],
      initializer: [
        f32("w", [2, 3], [1, 2, 3, 4, 5, 6]),
        tensorToProto("h", Tensor.from("float16", [2], [1.5, -2])),
        { name: "fd", dims: [2], dataType: DT.FLOAT, floatData: [1.25, -3] },
        { name: "id", dims: [3], dataType: DT.INT32, int32Data: [1, -2, 2 ** 31 - 1] },
        { name: "ld", dims: [2], dataType: DT.INT64, int64Data: [-5, 2n ** 62n] },
        { name: "dd", dims: [1], dataType: DT.DOUBLE, doubleData: [Math.E], docString: "e" },
        {
          name: "sd",
          dims: [2],
          dataType: DT.STRING,
          stringData: [new Uint8Array([104, 105]), new Uint8Array()],
        },
        {
          name: "ext",
          dims: [1024],
          dataType: DT.FLOAT,
          dataLocation: OnnxDataLocation.EXTERNAL,
          externalData: [
            { key: "location", value: "w.bin" },
            { key: "offset", value: "4096" },
            { key: "length", value: "4096" },
          ],
          metadataProps: [{ key: "q", value: "1" }],
        },
      ],
      input: [
        {
          name: "x",
          docString: "input doc",
          type: {
            tensorType: {
              elemType: DT.FLOAT,
              shape: { dim: [{ dimParam: "batch", denotation: "DATA_BATCH" }, { dimValue: 3 }, {}] },
            },
            denotation: "TENSOR",
          },
          metadataProps: [{ key: "m", value: "n" }],
        },
        { name: "scalar", type: { tensorType: { elemType: DT.INT64, shape: { dim: [] } } } },
        { name: "any_rank", type: { tensorType: { elemType: DT.BOOL } } },
      ],
      output: [
        { name: "y", type: { tensorType: { elemType: DT.FLOAT16, shape: { dim: [{ dimValue: 0 }] } } } },
        { name: "seq", type: { sequenceType: { elemType: { tensorType: { elemType: DT.FLOAT } } } } },
        { name: "opt", type: { optionalType: { elemType: { tensorType: { elemType: DT.UINT8 } } } } },
        {
          name: "map",
          type: { mapType: { keyType: DT.INT64, valueType: { tensorType: { elemType: DT.FLOAT } } } },
        },
        {
          name: "sparse",
          type: { sparseTensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimValue: 4 }] } } },
        },
      ],
      valueInfo: [
        { name: "mid", type: { tensorType: { elemType: DT.DOUBLE, shape: { dim: [{ dimValue: 1 }] } } } },
      ],
    },
    functions: [
      {
        name: "MyFn",
        domain: "com.example",
        overload: "v2",
        input: ["a"],
        output: ["b"],
        attribute: ["alpha"],
        attributeProto: [{ name: "beta", type: A.FLOAT, f: 1 }],
        node: [{ opType: "Neg", input: ["a"], output: ["b"] }],
        opsetImport: [{ domain: "", version: 18 }],
        valueInfo: [{ name: "b", type: { tensorType: { elemType: DT.FLOAT } } }],
        docString: "fn doc",
        metadataProps: [{ key: "x", value: "y" }],
      },
    ],
  };
}

describe("ONNX model codec", () => {
  it("round-trips every message type and attribute kind", () => {
    const model = everythingModel();
    const bytes = encodeModel(model);
    expect(decodeModel(bytes)).toEqual(model);
    // Encoding is deterministic and stable under a second round trip.
    expect(encodeModel(decodeModel(bytes))).toEqual(bytes);
  });

  it("infers attribute types and rejects ambiguous attributes", () => {
    const model = everythingModel();
    const attrs = model.graph.node[0].attribute ?? [];
    const untyped = attrs.filter((a) => a.refAttrName === undefined).map(({ type, ...rest }) => rest);
    model.graph.node[0].attribute = untyped;
    const decoded = decodeModel(encodeModel(model)).graph.node[0].attribute ?? [];
    expect(decoded.map((a) => a.type)).toEqual(attrs.filter((a) => !a.refAttrName).map((a) => a.type));
    model.graph.node[0].attribute = [{ name: "both", f: 1, i: 1 }];
    expect(() => encodeModel(model)).toThrow(/attribute 'both': set exactly one value field/);
  });

  it("reads proto2-style unpacked repeated fields (as written by onnx/PyTorch)", () => {
    const w = new ProtoWriter();
    w.varint(1, 8);
    w.message(7, (g) => {
      g.message(1, (n) =>
        n
          .string(1, "x")
          .string(2, "y")
          .string(4, "Transpose")
          .message(5, (a) => a.string(1, "perm").varint(8, 1).varint(8, 0).varint(20, A.INTS)),
      );
      g.message(5, (t) =>
        t.varint(1, 2).varint(1, 1).varint(2, DT.FLOAT).float(4, 1).float(4, 2).string(8, "c"),
      );
      g.message(99, (unknown) => unknown.string(1, "ignored"));
    });
    w.message(8, (o) => o.varint(2, 13));
    const m = decodeModel(w.finish());
    expect(m.graph.node[0].attribute?.[0]).toEqual({ name: "perm", ints: [1, 0], type: A.INTS });
    expect(tensorFromProto(m.graph.initializer?.[0] ?? f32("", [], [0])).toFloat64()).toEqual(
      new Float64Array([1, 2]),
    );
    expect(m.opsetImport).toEqual([{ version: 13 }]);
  });

  it("throws a clear error on empty, truncated or corrupt bytes, and never hangs", () => {
    expect(() => decodeModel(new Uint8Array())).toThrow(/^invalid ONNX model: .*no ir_version or graph/);
    const bytes = encodeModel(everythingModel());
    // Locate the graph field: any cut inside it must throw; cuts between top-level fields may decode.
    const r = new ProtoReader(bytes);
    let graphStart = 0;
    let graphEnd = 0;
    while (r.next()) {
      const start = r.pos;
      r.skip();
      if (r.field === 7) [graphStart, graphEnd] = [start, r.pos];
    }
    expect(graphEnd).toBeGreaterThan(graphStart);
    for (let cut = 0; cut < bytes.length; cut++) {
      const prefix = bytes.subarray(0, cut);
      if (cut > graphStart && cut < graphEnd) {
        expect(() => decodeModel(prefix), `cut at ${cut}`).toThrow(/^invalid ONNX model: protobuf: /);
      } else {
        try {
          decodeModel(prefix);
        } catch (e) {
          expect((e as Error).message).toMatch(/^invalid ONNX model: /);
        }
      }
    }
    // Random single-byte corruptions and random garbage: decode or throw an Error, nothing else.
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 8;
    };
    let thrown = 0;
    for (let k = 0; k < 3000; k++) {
      const buf = k < 2000 ? bytes.slice() : new Uint8Array(rand() % 64).map(() => rand() & 0xff);
      if (k < 2000) buf[rand() % buf.length] = rand() & 0xff;
      try {
        decodeModel(buf);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message).toMatch(/^invalid ONNX model: /);
        thrown++;
      }
    }
    expect(thrown).toBeGreaterThan(1000);
  });

  it("refuses graphs nested too deeply instead of overflowing the stack", () => {
    let g: GraphProto = { node: [], input: [], output: [] };
    for (let i = 0; i < 100; i++) {
      g = {
        node: [{ opType: "If", input: ["c"], output: [], attribute: [{ name: "then_branch", g }] }],
        input: [],
        output: [],
      };
    }
    const bytes = encodeModel({ irVersion: 10, opsetImport: [{ version: 18 }], graph: g });
    expect(() => decodeModel(bytes)).toThrow(/GraphProto nested more than 64 levels deep/);
  });
});

describe("TensorProto conversion", () => {
  const samples: [DType, number[] | bigint[]][] = [
    ["float32", [1.5, -2, 0, 3.25, 1e-8, -7]],
    ["float16", [1.5, -2, 0, 65504, 2 ** -24, -0.5]],
    ["float64", [Math.PI, -1e300, 0, 1, 2, 3]],
    ["int64", [-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n, -1n, 42n]],
    ["int32", [-(2 ** 31), 2 ** 31 - 1, 0, 1, -1, 42]],
    ["uint8", [0, 255, 1, 2, 3, 128]],
    ["bool", [1, 0, 1, 1, 0, 0]],
  ];

  it.each(samples)("maps %s both ways through raw_data", (dtype, values) => {
    const t = Tensor.from(dtype, [2, 3], values);
    const p = tensorToProto("t", t);
    expect(p.dataType).toBe(dtypeToOnnx(dtype));
    expect(dtypeFromOnnx(p.dataType)).toBe(dtype);
    expect(p.dims).toEqual([2, 3]);
    expect(p.rawData?.length).toBe(6 * t.data.BYTES_PER_ELEMENT);
    const back = tensorFromProto(decodeModel(encodeModel(modelWith(p))).graph.initializer?.[0] ?? p);
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual([2, 3]);
    expect(back.data).toEqual(t.data);
  });

  it("reads raw_data from a misaligned Node Buffer", () => {
    const t = Tensor.from("float64", [3], [1, -2, 3.5]);
    const bytes = encodeModel(modelWith(tensorToProto("t", t)));
    for (const shift of [0, 1, 3]) {
      const buf = Buffer.alloc(bytes.length + shift).subarray(shift);
      buf.set(bytes);
      const p = decodeModel(buf).graph.initializer?.[0];
      expect(p && tensorFromProto(p).data).toEqual(t.data);
    }
  });

  it("uses the ONNX data type codes", () => {
    expect([DT.FLOAT, DT.UINT8, DT.INT32, DT.INT64, DT.BOOL, DT.FLOAT16, DT.DOUBLE]).toEqual([
      1, 2, 6, 7, 9, 10, 11,
    ]);
    expect(() => dtypeFromOnnx(DT.BFLOAT16)).toThrow(/data type 16 \(BFLOAT16\) is not supported/);
  });

  it("reads the typed data fields when raw_data is absent", () => {
    const read = (p: Parameters<typeof tensorFromProto>[0]) => tensorFromProto(p);
    expect(read({ dims: [2], dataType: DT.FLOAT, floatData: [1, 2] }).data).toEqual(new Float32Array([1, 2]));
    expect(read({ dims: [2], dataType: DT.DOUBLE, doubleData: [1, 2] }).data).toEqual(
      new Float64Array([1, 2]),
    );
    expect(read({ dims: [2], dataType: DT.INT64, int64Data: [1, -2n] }).data).toEqual(
      new BigInt64Array([1n, -2n]),
    );
    expect(read({ dims: [2], dataType: DT.INT32, int32Data: [1, -2] }).data).toEqual(new Int32Array([1, -2]));
    expect(read({ dims: [2], dataType: DT.UINT8, int32Data: [1, 255] }).data).toEqual(
      new Uint8Array([1, 255]),
    );
    expect(read({ dims: [1], dataType: DT.BOOL, int32Data: [1] }).data).toEqual(new Uint8Array([1]));
    const h = read({ dims: [1], dataType: DT.FLOAT16, int32Data: [toHalfBits(-1.5)] });
    expect(h.dtype).toBe("float16");
    expect(h.toFloat64()).toEqual(new Float64Array([-1.5]));
    expect(read({ dims: [0, 3], dataType: DT.FLOAT }).size).toBe(0);
  });

  it("reports missing, mis-sized and external data", () => {
    expect(() => tensorFromProto({ name: "a", dims: [2], dataType: DT.FLOAT })).toThrow(
      /tensor 'a' float32\[2\]: no data/,
    );
    expect(() =>
      tensorFromProto({ name: "b", dims: [2], dataType: DT.FLOAT, rawData: new Uint8Array(4) }),
    ).toThrow(/raw_data has 4 bytes, expected 8/);
    expect(() => tensorFromProto({ name: "c", dims: [3], dataType: DT.INT32, int32Data: [1] })).toThrow(
      /has 1 values, expected 3/,
    );
    expect(() =>
      tensorFromProto({ name: "d", dims: [1], dataType: DT.FLOAT, dataLocation: OnnxDataLocation.EXTERNAL }),
    ).toThrow(/resolveExternalData/);
  });
});

function modelWith(...initializer: ReturnType<typeof tensorToProto>[]): ModelProto {
  return {
    irVersion: 10,
    opsetImport: [{ version: 18 }],
    graph: { node: [], input: [], output: [], initializer },
  };
}
