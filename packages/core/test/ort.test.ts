import { Graph, op } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import {
  checkKeepOnDevice,
  type ExecutionProvider,
  fromOrtData,
  graphSourceOnnx,
  loadWithFallback,
  modelSourceName,
  nodePlacements,
  ortSessionOptions,
  valueInfo,
} from "../src";

function fakeSession(outputNames: string[]) {
  const s = {
    outputNames,
    released: false,
    async release() {
      s.released = true;
    },
  };
  return s;
}

describe("loadWithFallback", () => {
  test("skips unavailable and failing providers, reporting each, and returns the first session", async () => {
    const tried: ExecutionProvider[] = [];
    const session = fakeSession(["y"]);
    const r = await loadWithFallback({
      name: "m",
      providers: ["cuda", "webgpu", "cpu"],
      unavailable: (p) => (p === "cuda" ? "not here" : undefined),
      create: async (p) => {
        tried.push(p);
        if (p === "webgpu") throw new Error("no adapter");
        return session;
      },
      hint: (p, message) => (p === "webgpu" ? ` [${message.length}]` : ""),
    });
    expect(tried).toEqual(["webgpu", "cpu"]);
    expect(r).toEqual({
      session,
      provider: "cpu",
      fallbackReason: "cuda: not here; webgpu: no adapter [10]",
    });
  });

  test("the first provider working leaves no fallback reason; none working lists every reason", async () => {
    const ok = await loadWithFallback({
      name: "m",
      providers: ["cpu"],
      unavailable: () => undefined,
      create: async () => fakeSession([]),
    });
    expect(ok.fallbackReason).toBeUndefined();
    await expect(
      loadWithFallback({
        name: "m",
        providers: ["wasm", "cpu"],
        unavailable: (p) => (p === "wasm" ? "not a provider" : undefined),
        create: () => Promise.reject("boom"),
      }),
    ).rejects.toThrow("cannot load model 'm' (wasm: not a provider; cpu: boom)");
    await expect(
      loadWithFallback({
        name: "m",
        providers: [],
        unavailable: () => undefined,
        create: async () => ok.session,
      }),
    ).rejects.toThrow("model 'm': no execution provider requested");
  });

  test("a session lacking a keepOnDevice output is released and the load fails", async () => {
    const session = fakeSession(["y"]);
    await expect(
      loadWithFallback({
        name: "m",
        providers: ["cpu", "wasm"],
        keepOnDevice: ["y", "z"],
        unavailable: () => undefined,
        create: async () => session,
      }),
    ).rejects.toThrow("model 'm': keepOnDevice names unknown outputs z");
    expect(session.released).toBe(true);
  });
});

test("checkKeepOnDevice and graphSourceOnnx name the unknown outputs", () => {
  expect(() => checkKeepOnDevice("m", undefined, [])).not.toThrow();
  expect(() => checkKeepOnDevice("m", ["a", "y", "b"], ["y"])).toThrow(
    "model 'm': keepOnDevice names unknown outputs a, b",
  );
  const g = new Graph("g");
  g.output("y", op.neg(g.input("x", "float32", [2])));
  expect(graphSourceOnnx("g", { graph: g }, ["y"])).toBeInstanceOf(Uint8Array);
  expect(() => graphSourceOnnx("g", { graph: g }, ["x"])).toThrow(
    "model 'g': keepOnDevice names unknown outputs x",
  );
  expect(modelSourceName({ graph: g })).toBe("g");
  expect(modelSourceName(new Uint8Array(5))).toBe("<5 bytes>");
  expect(modelSourceName("a/b.onnx")).toBe("a/b.onnx");
});

test("fromOrtData keeps float16 as Uint16Array bits and rejects unsupported element types", () => {
  const bits = new Uint16Array([0x3c00, 0xc000]);
  const asFloat16 = new Float32Array(bits.buffer, 0, 1); // any non-Uint16Array view of the same bytes
  const h = fromOrtData({ type: "float16", dims: [2] }, asFloat16, "x");
  expect(h.dtype).toBe("float16");
  expect(h.shape).toEqual([2]);
  expect(h.data).toBeInstanceOf(Uint16Array);
  expect([...h.data]).toEqual([0x3c00, 0xc000]);
  expect(() => fromOrtData({ type: "int8", dims: [1] }, new Int8Array(1), "model 'm': output 'y'")).toThrow(
    "model 'm': output 'y' has element type 'int8', which @flowturbo/tensor does not support",
  );
});

test("valueInfo and ortSessionOptions", () => {
  expect(
    valueInfo([
      { name: "x", isTensor: true, type: "float32", shape: [1, "n"] },
      { name: "s", isTensor: false },
    ]),
  ).toEqual([
    { name: "x", type: "float32", shape: [1, "n"] },
    { name: "s", type: "non-tensor" },
  ]);
  expect(ortSessionOptions("cpu", { keepOnDevice: ["y"] })).toEqual({
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  });
  expect(
    ortSessionOptions("webgpu", { keepOnDevice: ["y"], optimization: "basic", logLevel: "warning" }),
  ).toEqual({
    graphOptimizationLevel: "basic",
    logSeverityLevel: 2,
    preferredOutputLocation: { y: "gpu-buffer" },
  });
});

describe("nodePlacements", () => {
  test("reads ORT's verbose placement lines, one record per session", () => {
    const log = [
      "2026-01-01 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements",
      "2026-01-01 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 311",
      "2026-01-01 [I:onnxruntime:, inference_session.cc:3094 Initialize] Session successfully initialized.",
      "2026-01-01 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements",
      "2026-01-01 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 40",
      "2026-01-01 [V:onnxruntime:, session_state.cc:1389 VerifyEachNodeIsAssignedToAnEp]   MatMul (MatMul_3)",
      "2026-01-01 [V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2",
    ].join("\n");
    expect(nodePlacements(log)).toEqual([
      { WebGpuExecutionProvider: 311 },
      { WebGpuExecutionProvider: 40, CPUExecutionProvider: 2 },
    ]);
    expect(nodePlacements("no verbose log here")).toEqual([]);
  });
});
