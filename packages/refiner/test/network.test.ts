import { sitConfig, sitGraph } from "@flowturbo/sit";
import { GRAPH_FORMS, interpret, type Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import { refinerConfig, refinerGraph } from "../src";
import { loadCase, loadSafetensors, relMaxError, TINY } from "../../sit/test/golden";

describe("refiner graph", () => {
  test("the parameter count of SiT-XL/2's refiner matches the paper's (4.4% of the base)", () => {
    expect(sitGraph(refinerConfig(sitConfig("XL", 2))).parameterCount()).toBe(29_708_960);
  });

  test.each(GRAPH_FORMS)(
    "golden refiner_forward through the reference interpreter (%s form)",
    async (form) => {
      const weights = await loadSafetensors("refiner.safetensors");
      const { tensors } = await loadCase("refiner_forward");
      const g = refinerGraph(refinerConfig(TINY), { batch: 3, form });
      const feeds: Record<string, Tensor> = {};
      for (const k of ["x", "t", "v", "y"]) feeds[k] = tensors.get(k)!;
      const out = interpret(g, feeds, { weights });
      expect(relMaxError(out.delta_v.toFloat64(), tensors.get("out")!.toFloat64())).toBeLessThan(1e-4);
    },
  );
});
