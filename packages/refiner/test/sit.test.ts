import { interpret, type Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import { refinerConfig, refinerGraph, sincosPosEmbed, sitConfig, sitGraph } from "../src";
import { loadCase, loadSafetensors, relMaxError, TINY } from "./golden";

describe("SiT graph", () => {
  test("parameter counts of SiT-XL/2 and its refiner match the paper's", () => {
    const xl = sitConfig("XL", 2);
    expect(sitGraph(xl).parameterCount()).toBe(675_129_632);
    expect(sitGraph(refinerConfig(xl)).parameterCount()).toBe(29_708_960);
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

  test("golden refiner_forward through the reference interpreter", async () => {
    const weights = await loadSafetensors("refiner.safetensors");
    const { tensors } = await loadCase("refiner_forward");
    const g = refinerGraph(refinerConfig(TINY), { batch: 3 });
    const feeds: Record<string, Tensor> = {};
    for (const k of ["x", "t", "v", "y"]) feeds[k] = tensors.get(k)!;
    const out = interpret(g, feeds, { weights });
    expect(relMaxError(out.delta_v.toFloat64(), tensors.get("out")!.toFloat64())).toBeLessThan(1e-4);
  });
});
