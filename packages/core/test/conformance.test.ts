import { interpret, Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import type { Backend } from "../src";
import { conformanceCases, createReferenceBackend, runConformance, WEBGPU_TRIG_TOLERANCE } from "../src";

/** The reference backend, optionally corrupting one output: the suite must catch it. */
function interpreterBackend(corrupt?: string, relative = 1e-2, provider?: "webgpu"): Backend {
  const reference = createReferenceBackend();
  return {
    ...reference,
    load: async (source, opts) => {
      const session = await reference.load(source, opts);
      return {
        ...session,
        provider: provider ?? session.provider,
        run: async (feeds, outputs) => {
          const out = await session.run(feeds, outputs);
          const t = corrupt ? (out[corrupt] as Tensor | undefined) : undefined;
          if (corrupt && t) {
            const d = t.toFloat64();
            d[0] += relative * Math.max(1, Math.abs(d[0]));
            out[corrupt] = new Tensor("float64", t.shape, d);
          }
          return out;
        },
      };
    },
  };
}

describe("conformance suite", () => {
  test("covers every op family and all cases build and interpret", () => {
    const cases = conformanceCases();
    const ops = new Set(cases.flatMap((c) => c.graph.nodes.map((n) => n.op)));
    for (const op of [
      "MatMul",
      "Gemm",
      "Conv",
      "LayerNormalization",
      "Softmax",
      "Resize",
      "MaxPool",
      "AveragePool",
      "GlobalAveragePool",
      "Gather",
      "Slice",
      "Split",
      "Concat",
      "Transpose",
      "Reshape",
      "Pad",
      "Expand",
      "ReduceMean",
      "ReduceSum",
      "ReduceMax",
      "Where",
      "Cast",
      "Sin",
      "Cos",
      "Exp",
      "Erf",
      "Tanh",
      "FastGelu",
      "MultiHeadAttention",
    ]) {
      expect(ops, op).toContain(op);
    }
    for (const c of cases) {
      const out = interpret(c.graph, c.feeds, { weights: c.weights });
      for (const t of Object.values(out)) expect([...t.toFloat64()].every(Number.isFinite)).toBe(true);
    }
  });

  test("passes an exact backend and flags a wrong output", async () => {
    const ok = await runConformance(interpreterBackend());
    expect(ok.every((r) => r.passed)).toBe(true);
    const bad = await runConformance(interpreterBackend("gelu_tanh"));
    expect(bad.filter((r) => !r.passed).map((r) => r.output)).toEqual(["gelu_tanh"]);
  });

  test("on webgpu, sin/cos outputs are held to WGSL's accuracy and nothing else is relaxed", async () => {
    const trig = await runConformance(interpreterBackend("trig", 2e-4, "webgpu"));
    expect(trig.filter((r) => !r.passed)).toEqual([]);
    expect(trig.find((r) => r.output === "trig")!.tolerance).toBe(WEBGPU_TRIG_TOLERANCE);
    const worse = await runConformance(interpreterBackend("trig", 5e-3, "webgpu"));
    expect(worse.filter((r) => !r.passed).map((r) => r.output)).toEqual(["trig"]);
    const other = await runConformance(interpreterBackend("silu", 2e-4, "webgpu"));
    expect(other.filter((r) => !r.passed).map((r) => r.output)).toEqual(["silu"]);
    const cpu = await runConformance(interpreterBackend("trig", 2e-4));
    expect(cpu.filter((r) => !r.passed).map((r) => r.output)).toEqual(["trig"]);
  });
});
