import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeviceTensor } from "@flowturbo/core";
import { Graph, op, Tensor, toOnnx, toOnnxWithExternalData } from "@flowturbo/tensor";
import { afterAll, describe, expect, test } from "vitest";
import { createNodeBackend, cudaProviderLibrary } from "../src";

function affine(): Graph {
  const g = new Graph("affine");
  const x = g.input("x", "float32", [2, 3]);
  const idx = g.input("idx", "int64", [2]);
  g.output("y", op.add(op.mul(x, 2), 1));
  g.output("picked", op.gather(x, idx, 1));
  return g;
}

const x = Tensor.from("float32", [2, 3], [0, 1, 2, 3, 4, 5]);
const idx = Tensor.from("int64", [2], [2, 0]);

describe.each([
  { mode: "worker", worker: true },
  { mode: "in-thread", worker: false },
])("sessions ($mode)", ({ worker }) => {
  const backend = createNodeBackend({ worker });
  afterAll(() => backend.close());

  test("loads graphs, bytes and files; names, outputs subset", async () => {
    const fromGraph = await backend.load({ graph: affine() });
    expect(fromGraph.inputNames).toEqual(["x", "idx"]);
    expect(fromGraph.outputNames).toEqual(["y", "picked"]);
    expect(fromGraph.inputInfo[1]).toEqual({ name: "idx", type: "int64", shape: [2] });
    const bytes = toOnnx(affine());
    const fromBytes = await backend.load(bytes);
    const dir = mkdtempSync(join(tmpdir(), "ft-node-"));
    const file = join(dir, "affine.onnx");
    writeFileSync(file, bytes);
    const fromFile = await backend.load(file);
    expect(fromFile.name).toBe(file);
    for (const s of [fromGraph, fromBytes, fromFile]) {
      const out = await s.run({ x, idx });
      expect(Array.from((out.y as Tensor).data as Float32Array)).toEqual([1, 3, 5, 7, 9, 11]);
      expect(Array.from((out.picked as Tensor).data as Float32Array)).toEqual([2, 0, 5, 3]);
      const only = await s.run({ x, idx }, ["picked"]);
      expect(Object.keys(only)).toEqual(["picked"]);
      await s.release();
    }
    // the caller's input stays intact (it is copied once, not moved)
    expect(Array.from(x.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("callers' buffers are never detached (Node Buffers, views of larger buffers)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ft-node-"));
    writeFileSync(join(dir, "affine.onnx"), toOnnx(affine()));
    const buf = readFileSync(join(dir, "affine.onnx"));
    const a = await backend.load(buf);
    const b = await backend.load(buf);
    expect(buf.byteLength).toBeGreaterThan(0);
    const big = new Float32Array(100).map((_, i) => i);
    const view = new Tensor("float32", [2, 3], big.subarray(10, 16));
    const out = await a.run({ x: view, idx });
    expect(Array.from((out.y as Tensor).data as Float32Array)).toEqual([21, 23, 25, 27, 29, 31]);
    expect(big.length).toBe(100);
    expect(Array.from(view.data as Float32Array)).toEqual([10, 11, 12, 13, 14, 15]);
    await a.release();
    await b.release();
  });

  test("a model file with external data next to it", async () => {
    const g = new Graph("external");
    const v = g.input("v", "float32", [1, 512]);
    g.output("w", op.matmul(v, g.param("big", [512, 4])));
    const big = Tensor.from(
      "float32",
      [512, 4],
      Array.from({ length: 2048 }, (_, i) => (i % 7) - 3),
    );
    const { model, external } = toOnnxWithExternalData(g, {
      weights: { big },
      encode: { externalData: "always" },
    });
    const dir = mkdtempSync(join(tmpdir(), "ft-node-"));
    writeFileSync(join(dir, "external.onnx"), model);
    writeFileSync(join(dir, external!.location), Buffer.concat(external!.chunks));
    const s = await backend.load(join(dir, "external.onnx"));
    const w = (await s.run({ v: Tensor.from("float32", [1, 512], new Array(512).fill(1)) })).w as Tensor;
    expect(Array.from(w.data as Float32Array)).toEqual(
      [0, 1, 2, 3].map((c) =>
        Array.from({ length: 512 }, (_, r) => ((r * 4 + c) % 7) - 3).reduce((p, q) => p + q, 0),
      ),
    );
    await s.release();
  });

  test("int64, float16 and bool tensors round-trip with their storage types", async () => {
    const g = new Graph("dtypes");
    const h = g.input("h", "float16", [3]);
    const i = g.input("i", "int64", [3]);
    g.output("h2", op.add(h, op.cast(op.scalar(g, 1), "float16")));
    g.output("i2", op.mul(i, op.cast(op.scalar(g, 3), "int64")));
    g.output("b", op.greater(op.cast(i, "float32"), op.scalar(g, 0)));
    const s = await backend.load({ graph: g });
    const out = await s.run({
      h: Tensor.from("float16", [3], [0.5, -2, 8]),
      i: Tensor.from("int64", [3], [-1, 0, 7]),
    });
    const h2 = out.h2 as Tensor;
    expect(h2.dtype).toBe("float16");
    expect(h2.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(h2.toFloat64())).toEqual([1.5, -1, 9]);
    expect((out.i2 as Tensor).data).toEqual(BigInt64Array.from([-3n, 0n, 21n]));
    expect((out.b as Tensor).dtype).toBe("bool");
    expect(Array.from((out.b as Tensor).data as Uint8Array)).toEqual([0, 0, 1]);
    await s.release();
  });

  test("bad inputs and bad models fail with errors naming the model and the input", async () => {
    const s = await backend.load({ graph: affine() });
    await expect(s.run({ x, idx, z: x })).rejects.toThrow(
      /model 'affine': unknown input 'z' \(inputs: x, idx\)/,
    );
    await expect(s.run({ x })).rejects.toThrow(/model 'affine': missing input 'idx' \(int64\[2\]\)/);
    await expect(s.run({ x: Tensor.zeros("float32", [3, 2]), idx })).rejects.toThrow(
      /model 'affine': input 'x' must have shape \[2, 3\], got \[3, 2\]/,
    );
    await expect(s.run({ x: Tensor.zeros("float64", [2, 3]), idx })).rejects.toThrow(
      /input 'x' must be float32, got float64\[2, 3\]/,
    );
    await expect(s.run({ x, idx }, ["nope"])).rejects.toThrow(/unknown output 'nope' \(outputs: y, picked\)/);
    // an index out of range fails inside ONNX Runtime: the error names the model
    await expect(s.run({ x, idx: Tensor.from("int64", [2], [9, 0]) })).rejects.toThrow(
      /model 'affine' \(cpu\): run failed: .*Gather/,
    );
    await s.release();
    await expect(s.run({ x, idx })).rejects.toThrow(/session was released/);
    await expect(backend.load(new Uint8Array([1, 2, 3, 4, 5]))).rejects.toThrow(
      /cannot load model '<5 bytes>' \(cpu: .+\)/,
    );
    await expect(backend.load("/nonexistent/model.onnx")).rejects.toThrow(
      /model file not found: \/nonexistent\/model.onnx/,
    );
  });

  test("provider fallback is reported, never silent", async (ctx) => {
    const wasm = await backend.load({ graph: affine() }, { providers: ["wasm", "cpu"] });
    expect(wasm.provider).toBe("cpu");
    expect(wasm.fallbackReason).toBe("wasm: not an onnxruntime-node provider (use @flowturbo/backend-web)");
    await wasm.release();
    const plain = await backend.load({ graph: affine() }, { providers: ["cpu"] });
    expect(plain.fallbackReason).toBeUndefined();
    await plain.release();
    await expect(backend.load({ graph: affine() }, { providers: [] })).rejects.toThrow(
      /no execution provider/,
    );
    const offered = await backend.providers();
    expect(offered[0]).toBe("cpu");
    const lib = cudaProviderLibrary();
    if (lib && existsSync(lib)) ctx.skip(`the CUDA provider library is installed here (${lib})`);
    expect(offered).not.toContain("cuda");
    const cuda = await backend.load({ graph: affine() }, { providers: ["cuda", "cpu"] });
    expect(cuda.provider).toBe("cpu");
    expect(cuda.fallbackReason).toMatch(
      /^cuda: .*libonnxruntime_providers_cuda\.so is not installed.*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    );
    await cuda.release();
    await expect(backend.load({ graph: affine() }, { providers: ["cuda"] })).rejects.toThrow(
      /cannot load model 'affine' \(cuda: .*not installed/,
    );
  });

  test("keepOnDevice outputs stay with the session and feed back into run()", async () => {
    const g = new Graph("step");
    const v = g.input("v", "float32", [4]);
    g.output("next", op.add(op.mul(v, 2), 1));
    const s = await backend.load({ graph: g }, { keepOnDevice: ["next"] });
    let state: Tensor | Awaited<ReturnType<typeof s.run>>[string] = Tensor.from("float32", [4], [0, 1, 2, 3]);
    for (let i = 0; i < 3; i++) state = (await s.run({ v: state })).next;
    if (worker) {
      // on the CPU provider the worker keeps the value in its own memory
      expect(isDeviceTensor(state)).toBe(true);
      if (!isDeviceTensor(state)) return;
      expect(state.location).toBe("worker");
      expect(state.shape).toEqual([4]);
      const host = await state.download();
      expect(Array.from(host.data as Float32Array)).toEqual([7, 15, 23, 31]);
      state.dispose();
      await expect(state.download()).rejects.toThrow(/disposed/);
    } else {
      expect(isDeviceTensor(state)).toBe(false);
      expect(Array.from((state as Tensor).data as Float32Array)).toEqual([7, 15, 23, 31]);
    }
    await expect(backend.load({ graph: g }, { keepOnDevice: ["w"] })).rejects.toThrow(
      /keepOnDevice names unknown outputs w/,
    );
    await s.release();
  });
});

describe("webgpuHint", () => {
  test("Dawn without an adapter gets told how to get one", async () => {
    const { webgpuHint } = await import("../src/engine");
    expect(webgpuHint("Failed to get a WebGPU adapter: No supported adapters")).toMatch(
      /Vulkan driver.*VK_ICD_FILENAMES=\/usr\/lib\/chromium\/vk_swiftshader_icd\.json/,
    );
    expect(webgpuHint("some other failure")).toBe("");
  });
});
