import { interpret } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
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

  test("golden sit_forward through the reference interpreter", async () => {
    const weights = await loadSafetensors("sit.safetensors");
    const { tensors } = await loadCase("sit_forward");
    const g = sitGraph(TINY, { batch: 3 });
    const out = interpret(
      g,
      { x: tensors.get("x")!, t: tensors.get("t")!, y: tensors.get("y")! },
      { weights },
    );
    const ref = tensors.get("out")!;
    expect(out.v.shape).toEqual(ref.shape);
    expect(relMaxError(out.v.toFloat64(), ref.toFloat64())).toBeLessThan(1e-4);
  });
});
