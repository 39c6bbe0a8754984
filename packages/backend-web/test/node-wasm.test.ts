// onnxruntime-web's WASM provider under Node (the backend's Node default: onnxruntime-web's Node build).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isDeviceTensor, runConformance } from "@flowturbo/core";
import { Graph, op, Tensor, toOnnx, toOnnxWithExternalData } from "@flowturbo/tensor";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createWebBackend } from "../src";

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

/** Files served to the URL test. */
const files: Record<string, Uint8Array> = {};
const server: Server = createServer((req, res) => {
  const body = files[req.url ?? ""];
  res.statusCode = body ? 200 : 404;
  res.end(body ?? "");
});
let origin = "";

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe("backend-web under Node (WASM)", () => {
  const backend = createWebBackend({ threads: 2 });
  afterAll(() => backend.close());

  test("conformance: every op family matches the reference interpreter", async () => {
    const used = new Set<string>();
    const reasons = new Set<string | undefined>();
    const results = await runConformance({
      name: backend.name,
      providers: () => backend.providers(),
      load: async (source, opts) => {
        const s = await backend.load(source, opts);
        used.add(s.provider);
        reasons.add(s.fallbackReason);
        return s;
      },
    });
    // the default preference is WebGPU then WASM: Node has no navigator.gpu, and says so
    expect([...used]).toEqual(["wasm"]);
    expect([...reasons]).toEqual(["webgpu: navigator.gpu is not available here"]);
    expect(await backend.providers()).toEqual(["wasm"]);
    const failed = results.filter((r) => !r.passed).map((r) => `${r.name}/${r.output}: ${r.relError}`);
    expect(results.length).toBeGreaterThan(30);
    expect(failed).toEqual([]);
  });

  test("int64, float16 and bool tensors keep their storage types", async () => {
    const g = new Graph("dtypes");
    const h = g.input("h", "float16", [3]);
    const i = g.input("i", "int64", [3]);
    g.output("h2", op.add(h, op.cast(op.scalar(g, 1), "float16")));
    g.output("i2", op.mul(i, op.cast(op.scalar(g, 3), "int64")));
    g.output("b", op.greater(op.cast(i, "float32"), op.scalar(g, 0)));
    const s = await backend.load({ graph: g }, { providers: ["wasm"] });
    expect(s.fallbackReason).toBeUndefined();
    const out = await s.run({
      h: Tensor.from("float16", [3], [0.5, -2, 8]),
      i: Tensor.from("int64", [3], [-1, 0, 7]),
    });
    const h2 = out.h2 as Tensor;
    expect(h2.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(h2.toFloat64())).toEqual([1.5, -1, 9]);
    expect((out.i2 as Tensor).data).toEqual(BigInt64Array.from([-3n, 0n, 21n]));
    expect(Array.from((out.b as Tensor).data as Uint8Array)).toEqual([0, 0, 1]);
    await s.release();
  });

  test("errors name the model and the input; fallback is reported", async () => {
    const s = await backend.load(toOnnx(affine()), { providers: ["cuda", "cpu"] });
    expect(s.name).toMatch(/^<\d+ bytes>$/);
    expect(s.provider).toBe("wasm");
    expect(s.fallbackReason).toBe("cuda: not an onnxruntime-web provider (use @flowturbo/backend-node)");
    const where = s.name.replace(/[<>]/g, "\\$&");
    await expect(s.run({ x, idx, z: x })).rejects.toThrow(new RegExp(`model '${where}': unknown input 'z'`));
    await expect(s.run({ x })).rejects.toThrow(/missing input 'idx' \(int64\[2\]\)/);
    await expect(s.run({ x: Tensor.zeros("float32", [3, 2]), idx })).rejects.toThrow(
      /input 'x' must have shape \[2, 3\], got \[3, 2\]/,
    );
    await expect(s.run({ x: Tensor.zeros("int32", [2, 3]), idx })).rejects.toThrow(
      /input 'x' must be float32, got int32/,
    );
    await expect(s.run({ x, idx }, ["nope"])).rejects.toThrow(/unknown output 'nope' \(outputs: y, picked\)/);
    const only = await s.run({ x, idx }, ["picked"]);
    expect(Array.from((only.picked as Tensor).data as Float32Array)).toEqual([2, 0, 5, 3]);
    expect(Object.keys(only)).toEqual(["picked"]);
    await s.release();
    await expect(backend.load(new Uint8Array([1, 2, 3, 4, 5]), { providers: ["wasm"] })).rejects.toThrow(
      /cannot load model '<5 bytes>' \(wasm: .+\)/,
    );
    await expect(backend.load({ graph: affine() }, { providers: ["webgpu"] })).rejects.toThrow(
      /cannot load model 'affine' \(webgpu: navigator.gpu is not available here\)/,
    );
  });

  test("prepare starts the runtime ahead of loads and never rejects; modules can be chosen per provider", async () => {
    await expect(backend.prepare(["wasm", "webgpu"])).resolves.toBeUndefined();
    const wasm = await backend.ort("wasm");
    const chosen = createWebBackend({ ort: { wasm } });
    expect(await chosen.ort("wasm")).toBe(wasm);
    const s = await chosen.load({ graph: affine() }, { providers: ["wasm"] });
    expect(Array.from(((await s.run({ x, idx })).y as Tensor).data as Float32Array)).toEqual([
      1, 3, 5, 7, 9, 11,
    ]);
    await chosen.close();
  });

  test("keepOnDevice on WASM returns host tensors (there is no device)", async () => {
    const s = await backend.load({ graph: affine() }, { providers: ["wasm"], keepOnDevice: ["y"] });
    const out = await s.run({ x, idx });
    expect(isDeviceTensor(out.y)).toBe(false);
    await s.release();
  });

  test("a model URL with external data is fetched with its data file", async () => {
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
      encode: { externalData: "always", location: "external.onnx.data" },
    });
    expect(external?.location).toBe("external.onnx.data");
    files["/models/external.onnx"] = model;
    files["/models/external.onnx.data"] = Buffer.concat(external!.chunks);
    const url = `${origin}/models/external.onnx`;
    const s = await backend.load(url, { providers: ["wasm"] });
    expect(s.name).toBe(url);
    const ones = Tensor.from("float32", [1, 512], new Array(512).fill(1));
    const w = (await s.run({ v: ones })).w as Tensor;
    const expected = [0, 1, 2, 3].map((c) => {
      let sum = 0;
      for (let r = 0; r < 512; r++) sum += ((r * 4 + c) % 7) - 3;
      return sum;
    });
    expect(Array.from(w.data as Float32Array)).toEqual(expected);
    await s.release();
    await expect(backend.load(url.replace("external.onnx", "missing.onnx"))).rejects.toThrow(
      /cannot fetch model http:.*\/missing.onnx: HTTP 404/,
    );
    delete files["/models/external.onnx.data"];
    await expect(backend.load(url)).rejects.toThrow(
      /cannot fetch external data of .*external.onnx: .*external.onnx.data: HTTP 404/,
    );
  });
});
