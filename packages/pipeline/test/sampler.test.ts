import { createNodeBackend } from "@flowturbo/backend-node";
import { type Backend, createReferenceBackend } from "@flowturbo/core";
import { refinerConfig, refinerGraph } from "@flowturbo/refiner";
import { sitGraph } from "@flowturbo/sit";
import { sampleFlowTurbo } from "@flowturbo/solvers";
import { afterAll, describe, expect, test } from "vitest";
import { baseVelocity, parseMethod, refinerVelocity, sample } from "../src";
import { loadCase, loadSafetensors, relL2, TINY } from "../../sit/test/golden";

const CASES = ["sampler_H1P2R2_cfg4", "sampler_H2P0R1_cfg1", "sampler_H3_cfg1.5", "sampler_H1P3_cfg1.5"];

const node = createNodeBackend();
afterAll(() => node.close());

describe.each([
  ["reference interpreter", createReferenceBackend() as Backend],
  ["ORT CPU", node as Backend],
])("golden FlowTurbo sampling through the %s", (_name, backend) => {
  test.each(CASES)("%s reproduces the official trajectory", async (caseName) => {
    const { tensors, meta } = await loadCase(caseName);
    const plan = meta.plan as { heun: number; pseudo: number; refine: number };
    const xInit = tensors.get("x_init")!;
    const shape = [...xInit.shape];
    const labels = Array.from(tensors.get("y_doubled")!.toFloat64());
    const base = await backend.load({
      graph: sitGraph(TINY, { batch: shape[0] }),
      weights: await loadSafetensors("sit.safetensors"),
    });
    const refiner = await backend.load({
      graph: refinerGraph(refinerConfig(TINY), { batch: shape[0] }),
      weights: await loadSafetensors("refiner.safetensors"),
    });
    const result = await sampleFlowTurbo(baseVelocity(base, { shape, labels }), xInit.data as Float32Array, {
      plan: `H${plan.heun}P${plan.pseudo}R${plan.refine}`,
      refiner: refinerVelocity(refiner, { shape, labels }),
      guidance: { scale: meta.cfg_scale as number, shape, channels: "sit" },
      trajectory: true,
    });
    const traj = tensors.get("trajectory")!;
    const per = xInit.size;
    expect(result.trajectory!.length).toBe(traj.shape[0]);
    const ref = traj.toFloat64();
    result.trajectory!.forEach((x, k) => {
      expect(relL2(x, ref.subarray(k * per, (k + 1) * per)), `block ${k}`).toBeLessThan(1e-3);
    });
    expect(result.nfe).toEqual({
      base: 2 * plan.heun + plan.pseudo + (plan.heun === 0 ? 1 : 0),
      refiner: 2 * plan.refine,
    });
    await base.release();
    await refiner.release();
  });
});

describe("the shared sampling pipeline", () => {
  test("sample() with the golden noise and labels gives the golden final samples (H1P2R2, CFG 4, ORT CPU)", async () => {
    const { tensors } = await loadCase("sampler_H1P2R2_cfg4");
    const z = tensors.get("z")!;
    const labels = Array.from(tensors.get("labels")!.toFloat64());
    const base = await node.load({
      graph: sitGraph(TINY, { batch: 4 }),
      weights: await loadSafetensors("sit.safetensors"),
    });
    const refiner = await node.load({
      graph: refinerGraph(refinerConfig(TINY)),
      weights: await loadSafetensors("refiner.safetensors"),
    });
    const r = await sample({
      base,
      refiner,
      shape: [4, 8, 8],
      labels,
      nullClass: 1000,
      method: parseMethod({ plan: "H1P2R2" }),
      seed: 0,
      noise: z.data as Float32Array,
      cfgScale: 4,
      batchSize: 1, // one sample at a time: the dynamic-batch ONNX model serves batch 2 (doubled) too
    });
    const ref = tensors.get("out")!.toFloat64().subarray(0, z.size);
    expect(relL2(r.latents.data as Float32Array, ref)).toBeLessThan(1e-3);
    expect(r.nfe).toEqual({ base: 2 * (2 + 2), refiner: 2 * 4 });
  });
});
