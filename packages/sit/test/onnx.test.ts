import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { halfWeights, interpret, Tensor, toHalfPrecision, toOnnxWithExternalData } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { FULL_TIER } from "@flowturbo/test-support";
import { afterAll, describe, expect, test } from "vitest";
import { proceduralWeights, type SiTConfig, sitConfig, sitGraph } from "../src";
import { loadCase, loadSafetensors, relMaxError } from "./golden";

const tiny: SiTConfig = { ...sitConfig("S", 2), inputSize: 8, hiddenSize: 64, depth: 2, numHeads: 4 };
const backend = createNodeBackend();
afterAll(() => backend.close());

describe("SiT as ONNX", () => {
  test("float16 emission stays within float16 accuracy of the float32 oracle on the golden case", async () => {
    const weights = await loadSafetensors("sit.safetensors");
    const { tensors } = await loadCase("sit_forward");
    const feeds = { x: tensors.get("x")!, t: tensors.get("t")!, y: tensors.get("y")! };
    const g = sitGraph(tiny, { batch: 3 });
    const session = await backend.load({ graph: toHalfPrecision(g), weights: halfWeights(weights) });
    const got = (await session.run(feeds)).v as Tensor;
    const err = relMaxError(got.toFloat64(), tensors.get("out")!.toFloat64());
    expect(err).toBeLessThan(2e-2);
    expect(err).toBeGreaterThan(1e-6); // it did compute in half precision
    await session.release();
    // dynamic batch: the same float32 model answers batch 1 and batch 3 consistently
    const f32 = await backend.load({ graph: g, weights });
    const all = ((await f32.run(feeds)).v as Tensor).toFloat64();
    const one = await f32.run({
      x: feeds.x.sliceRows(1, 2),
      t: feeds.t.sliceRows(1, 2),
      y: feeds.y.sliceRows(1, 2),
    });
    const row = (one.v as Tensor).toFloat64();
    expect(relMaxError(row, all.subarray(row.length, 2 * row.length))).toBeLessThan(1e-5);
    await f32.release();
    expect(interpret(g, feeds, { weights }).v.shape).toEqual([3, 4, 8, 8]);
  });

  // real size: ~1 minute and 5 GB of memory on a 2-core machine
  test.skipIf(!FULL_TIER)(
    "SiT-XL/2 at 256 from procedural weights: 675,129,632 parameters, external data, one CPU forward",
    async () => {
      const cfg = sitConfig("XL", 2);
      const g = sitGraph(cfg);
      expect(g.parameterCount()).toBe(675_129_632);
      const weights = proceduralWeights(g);
      const encoded = toOnnxWithExternalData(g, {
        weights,
        encode: { externalData: "auto", location: "sit-xl-2.onnx.data" },
      });
      expect(encoded.external?.size).toBeGreaterThan(2 ** 31); // over 2 GiB: weights must live outside the protobuf
      const dir = await mkdtemp(join(tmpdir(), "flowturbo-xl-"));
      try {
        await writeFileStreaming(join(dir, "sit-xl-2.onnx"), [encoded.model]);
        await writeFileStreaming(join(dir, "sit-xl-2.onnx.data"), encoded.external!.chunks);
        weights.clear();
        const session = await backend.load(join(dir, "sit-xl-2.onnx"), { providers: ["cpu"] });
        const x = Tensor.from(
          "float32",
          [1, 4, 32, 32],
          Array.from({ length: 4096 }, (_, i) => Math.sin(i)),
        );
        const out = (
          await session.run({ x, t: Tensor.from("float32", [1], [0.5]), y: Tensor.from("int64", [1], [207]) })
        ).v as Tensor;
        expect(out.shape).toEqual([1, 4, 32, 32]);
        const v = out.toFloat64();
        expect(v.every(Number.isFinite)).toBe(true);
        expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(1e-3);
        await session.release();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
