// External data: layout, loading, and ORT accepting model + data file from disk.
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  decodeModel,
  type EncodedModel,
  encodeModel,
  type ModelProto,
  OnnxDataLocation,
  OnnxDataType as DT,
  resolveExternalData,
  tensorFromProto,
  tensorToProto,
} from "../../src/index";
import { Tensor } from "../../src/tensor";
import { matmulBias, modelOf, randomFloats, tensorInfo } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "flowturbo-onnx-ext-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const K = 64;
const N = 32;
const W = Tensor.from("float32", [K, N], randomFloats(K * N, 11)); // 8 KiB: moved out
const W2 = Tensor.from("float16", [N, N], randomFloats(N * N, 12)); // 2 KiB: moved out, after padding
const B = Tensor.from("float32", [N], randomFloats(N, 13)); // 128 B: stays inline

/** y = Cast(x @ W + b, float16) @ W2, cast back to float. */
function mlp(): ModelProto {
  return modelOf({
    name: "mlp",
    node: [
      { opType: "MatMul", input: ["x", "W"], output: ["xw"] },
      { opType: "Add", input: ["xw", "b"], output: ["h"] },
      { opType: "Cast", input: ["h"], output: ["h16"], attribute: [{ name: "to", i: DT.FLOAT16 }] },
      { opType: "MatMul", input: ["h16", "W2"], output: ["y16"] },
      { opType: "Cast", input: ["y16"], output: ["y"], attribute: [{ name: "to", i: DT.FLOAT }] },
    ],
    initializer: [tensorToProto("W", W), tensorToProto("W2", W2), tensorToProto("b", B)],
    input: [tensorInfo("x", DT.FLOAT, ["batch", K])],
    output: [tensorInfo("y", DT.FLOAT, ["batch", N])],
  });
}

const entries = (m: ModelProto, name: string) => {
  const t = m.graph.initializer?.find((i) => i.name === name);
  return Object.fromEntries((t?.externalData ?? []).map((e) => [e.key, e.value]));
};

/** Writes the encoded model and its data file chunk by chunk (no single data buffer). */
function writeFiles(encoded: EncodedModel, modelPath: string): void {
  writeFileSync(modelPath, encoded.model);
  if (!encoded.external) return;
  const fd = openSync(join(dir, encoded.external.location), "w");
  try {
    for (const chunk of encoded.external.chunks) writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
}

describe("external data", () => {
  it("moves large initializers to aligned offsets of a chunked data file", () => {
    const encoded = encodeModel(mlp(), { externalData: "always", location: "mlp.bin" });
    const ext = encoded.external;
    expect(ext?.location).toBe("mlp.bin");
    const m = decodeModel(encoded.model);
    expect(entries(m, "W")).toEqual({ location: "mlp.bin", offset: "0", length: String(K * N * 4) });
    expect(entries(m, "W2")).toEqual({ location: "mlp.bin", offset: "8192", length: String(N * N * 2) });
    const inline = m.graph.initializer?.find((t) => t.name === "b");
    expect(inline?.dataLocation).toBeUndefined();
    expect(inline && tensorFromProto(inline).data).toEqual(B.data);
    const moved = m.graph.initializer?.find((t) => t.name === "W");
    expect(moved?.dataLocation).toBe(OnnxDataLocation.EXTERNAL);
    expect(moved?.rawData).toBeUndefined();
    // Chunks: W, zero padding to 8192, W2; the tensor chunks are views of the tensors' storage.
    expect(ext?.chunks.map((c) => c.length)).toEqual([8192, 0, 2048].filter((n) => n > 0));
    expect(ext?.chunks[0].buffer).toBe(W.data.buffer);
    expect(ext?.size).toBe(8192 + 2048);
    expect(encoded.model.length).toBeLessThan(1024);
    // The caller's model is not modified.
    expect(mlp().graph.initializer?.[0].rawData).toBeDefined();
  });

  it("honours align and sizeThreshold, and stays inline in auto mode below 2 GiB", () => {
    const e = encodeModel(mlp(), {
      externalData: "always",
      align: 64,
      sizeThreshold: 100,
      location: "d/w.bin",
    });
    const m = decodeModel(e.model);
    expect(entries(m, "W2").offset).toBe("8192");
    expect(entries(m, "b")).toEqual({ location: "d/w.bin", offset: "10240", length: "128" });
    expect(encodeModel(mlp(), {}).external).toBeUndefined();
    expect(encodeModel(mlp(), { externalData: "never" }).external).toBeUndefined();
    expect(() => encodeModel(mlp(), { externalData: "always", location: "../w.bin" })).toThrow(
      /relative path/,
    );
    expect(() => encodeModel(mlp(), { externalData: "always", location: "/tmp/w.bin" })).toThrow(
      /relative path/,
    );
  });

  it("auto mode moves initializers out when the model would exceed 2 GiB (without copying them)", () => {
    let big: Tensor;
    try {
      big = Tensor.zeros("uint8", [2 ** 31]); // zero pages: not touched by encoding
    } catch {
      return; // this machine cannot allocate it: nothing to check
    }
    const model = modelOf({ node: [], initializer: [tensorToProto("big", big)], input: [], output: [] });
    expect(() => encodeModel(model)).toThrow(/over the 2 GiB protobuf limit.*externalData/);
    expect(() => encodeModel(model, { externalData: "never" })).toThrow(/over the 2 GiB protobuf limit/);
    const encoded = encodeModel(model, {});
    expect(encoded.external?.size).toBe(2 ** 31);
    expect(encoded.external?.chunks[0].buffer).toBe(big.data.buffer);
    expect(entries(decodeModel(encoded.model), "big")).toEqual({
      location: "model.onnx.data",
      offset: "0",
      length: String(2 ** 31),
    });
  });

  it("resolveExternalData loads the tensors back through a reader", async () => {
    const encoded = encodeModel(mlp(), { externalData: "always", location: "mlp.bin" });
    const file = new Uint8Array(encoded.external?.size ?? 0);
    let at = 0;
    for (const c of encoded.external?.chunks ?? []) {
      file.set(c, at);
      at += c.length;
    }
    const reads: string[] = [];
    const decoded = decodeModel(encoded.model);
    const resolved = await resolveExternalData(decoded, async (location, offset, length) => {
      reads.push(`${location}@${offset}+${length}`);
      return file.subarray(offset, offset + length);
    });
    expect(reads).toEqual(["mlp.bin@0+8192", "mlp.bin@8192+2048"]);
    const byName = (m: ModelProto, name: string) => m.graph.initializer?.find((t) => t.name === name);
    for (const [name, t] of [
      ["W", W],
      ["W2", W2],
      ["b", B],
    ] as const) {
      const p = byName(resolved, name);
      expect(p?.dataLocation).toBeUndefined();
      expect(p?.externalData).toBeUndefined();
      expect(p && tensorFromProto(p).data).toEqual(t.data);
    }
    expect(byName(decoded, "W")?.rawData).toBeUndefined(); // input model untouched
    // Re-encoding the resolved model gives the all-inline model back.
    expect(encodeModel(resolved)).toEqual(encodeModel(mlp()));
    await expect(resolveExternalData(decoded, () => new Uint8Array(3))).rejects.toThrow(
      /external tensor 'W': read 3 bytes of mlp.bin at 0, expected 8192/,
    );
  });

  it("ORT loads the model and its data file from disk", async () => {
    const modelPath = join(dir, "mlp.onnx");
    const encoded = encodeModel(mlp(), { externalData: "always", location: "mlp.onnx.data" });
    writeFiles(encoded, modelPath);
    expect(statSync(join(dir, "mlp.onnx.data")).size).toBe(encoded.external?.size);

    const session = await ort.InferenceSession.create(modelPath);
    const inline = await ort.InferenceSession.create(encodeModel(mlp()));
    const x = randomFloats(3 * K, 5);
    const feeds = { x: new ort.Tensor("float32", x, [3, K]) };
    const { y } = await session.run(feeds);
    const { y: yInline } = await inline.run(feeds);
    expect(y.dims).toEqual([3, N]);
    expect(Array.from(y.data as Float32Array)).toEqual(Array.from(yInline.data as Float32Array));
    // Loose check against a float32 reference (the second layer runs in float16).
    const h = Tensor.from("float32", [3, N], matmulBias(x, W.data, B.data, 3, K, N)).astype("float16");
    const ref = matmulBias(h.toFloat32(), W2.toFloat32(), new Float32Array(N), 3, N, N);
    (y.data as Float32Array).forEach((v, i) => {
      expect(Math.abs(v - ref[i])).toBeLessThan(0.05 * (1 + Math.abs(ref[i])));
    });

    // And our own loader reads the same files back.
    const fd = openSync(join(dir, "mlp.onnx.data"), "r");
    try {
      const resolved = await resolveExternalData(
        decodeModel(readFileSync(modelPath)),
        (location, offset, length) => {
          expect(location).toBe("mlp.onnx.data");
          const out = new Uint8Array(length);
          readSync(fd, out, 0, length, offset);
          return out;
        },
      );
      const w2 = resolved.graph.initializer?.find((t) => t.name === "W2");
      expect(w2 && tensorFromProto(w2).data).toEqual(W2.data);
    } finally {
      closeSync(fd);
    }
  });
});
