import { createNodeBackend } from "@flowturbo/backend-node";
import { GRAPH_FORMS, interpret, type Tensor } from "@flowturbo/tensor";
import { afterAll, describe, expect, test } from "vitest";
import { sincosPosEmbed, sitConfig, sitGraph } from "../src";
import { loadCase, loadSafetensors, relMaxError, TINY } from "./golden";

describe("SiT graph", () => {
  test("the parameter count of SiT-XL/2 matches the paper's", () => {
    expect(sitGraph(sitConfig("XL", 2)).parameterCount()).toBe(675_129_632);
  });

  test("pos_embed equals the checkpoint's sin-cos table", async () => {
    const w = await loadSafetensors("sit.safetensors");
    const ref = w.get("pos_embed")!;
    const got = sincosPosEmbed(64, 4);
    expect(got.shape).toEqual(ref.shape);
    expect(relMaxError(got.toFloat64(), ref.toFloat64())).toBeLessThan(1e-6);
  });

  test.each(GRAPH_FORMS)("golden sit_forward through the reference interpreter (%s form)", async (form) => {
    const weights = await loadSafetensors("sit.safetensors");
    const { tensors } = await loadCase("sit_forward");
    const g = sitGraph(TINY, { batch: 3, form });
    const out = interpret(
      g,
      { x: tensors.get("x")!, t: tensors.get("t")!, y: tensors.get("y")! },
      { weights },
    );
    const ref = tensors.get("out")!;
    expect(out.v.shape).toEqual(ref.shape);
    expect(relMaxError(out.v.toFloat64(), ref.toFloat64())).toBeLessThan(1e-4);
  });

  test.each(GRAPH_FORMS)("golden sit_forward on ORT CPU (%s form, dynamic batch)", async (form) => {
    const weights = await loadSafetensors("sit.safetensors");
    const { tensors } = await loadCase("sit_forward");
    const session = await backend.load({ graph: sitGraph(TINY, { form }), weights });
    const out = (await session.run({ x: tensors.get("x")!, t: tensors.get("t")!, y: tensors.get("y")! }))
      .v as Tensor;
    await session.release();
    expect(relMaxError(out.toFloat64(), tensors.get("out")!.toFloat64())).toBeLessThan(1e-4);
  });

  test("the fused form has the plain form's values in fewer nodes", () => {
    const plain = sitGraph(TINY, { batch: 3 });
    const fused = sitGraph(TINY, { batch: 3, form: "fused" });
    const ops = (g: typeof plain) => g.liveNodes().map((n) => n.op);
    expect(ops(fused).filter((o) => o === "MultiHeadAttention")).toHaveLength(TINY.depth);
    expect(ops(fused).filter((o) => o === "FastGelu")).toHaveLength(TINY.depth);
    expect(ops(fused)).not.toContain("Softmax");
    expect(ops(fused).length).toBeLessThan(0.7 * ops(plain).length);
    expect(fused.parameterCount()).toBe(plain.parameterCount());
  });
});

const backend = createNodeBackend({ threads: 1 });
afterAll(() => backend.close());
