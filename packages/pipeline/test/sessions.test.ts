// openSamplingModels: the sessions FlowTurboPipeline samples through, on the golden tiny SiT and refiner
// (ORT CPU): per-call and block sessions give the same samples; bad inputs name the file.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { loadCheckpoint, type ModelCheckpoint } from "@flowturbo/sit";
import { parsePlan } from "@flowturbo/solvers";
import { afterAll, describe, expect, test } from "vitest";
import { checkpointClassNames, graphFormFor, openSamplingModels, parseMethod, sample } from "../src";
import { FIXTURES } from "../../sit/test/golden";

const node = createNodeBackend({ threads: 1 });
afterAll(() => node.close());

async function load(file: string): Promise<ModelCheckpoint> {
  return loadCheckpoint(new Uint8Array(await readFile(join(FIXTURES, file))), { file, heads: 4 });
}

async function run(level: "none" | "model" | "block", plan: string) {
  const base = await load("sit.safetensors");
  const refiner = await load("refiner.safetensors");
  const models = await openSamplingModels(node, {
    base,
    refiner,
    level,
    block: { batch: 2, guided: true, plans: [parsePlan(plan)] },
  });
  try {
    expect(models.provider).toBe("cpu");
    expect(level === "block" ? models.blocks : models.base).toBeDefined();
    const c = models.config;
    return await sample({
      base: models.base,
      refiner: models.refiner,
      compile: level,
      blocks: models.blocks?.sessions,
      shape: [c.keepChannels, c.inputSize, c.inputSize],
      labels: [3, 207],
      nullClass: c.numClasses,
      method: parseMethod({ plan }),
      seed: 5,
      cfgScale: 1.5,
    });
  } finally {
    await models.release();
  }
}

describe("openSamplingModels", () => {
  test("graph form: the backend's for the first provider (ONNX Runtime: plain on WebGPU), else its graphForm", () => {
    expect(graphFormFor(node, ["cpu"])).toBe("fused");
    expect(graphFormFor(node, ["webgpu", "cpu"])).toBe("plain");
    expect(graphFormFor(node, undefined)).toBe("fused");
    expect(graphFormFor({ graphForm: "fused" }, ["webgpu"])).toBe("fused");
    expect(graphFormFor({}, ["cpu"])).toBe("plain");
  });

  test("levels none, model and block sample the same latents", async () => {
    const plan = "H1P2R2";
    const ref = (await run("model", plan)).latents.toFloat32();
    for (const level of ["none", "block"] as const) {
      const got = (await run(level, plan)).latents.toFloat32();
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(got[i] - ref[i]));
      expect(max, level).toBeLessThan(1e-5);
    }
  });

  test("optimization sets the ORT level of the compiled levels' sessions; level none stays disabled", async () => {
    const base = await load("sit.safetensors");
    const refiner = await load("refiner.safetensors");
    const seen: (string | undefined)[] = [];
    const spy = new Proxy(node, {
      get(target, key, receiver) {
        if (key !== "load") return Reflect.get(target, key, receiver);
        return (source: Parameters<typeof node.load>[0], so?: Parameters<typeof node.load>[1]) => {
          seen.push(so?.optimization);
          return target.load(source, so);
        };
      },
    });
    const levels = [
      ["none", ["disabled", "disabled"]],
      ["model", ["basic", "basic"]],
      ["block", ["basic"]],
    ] as const;
    for (const [level, want] of levels) {
      seen.length = 0;
      const models = await openSamplingModels(spy, {
        base,
        refiner,
        level,
        optimization: "basic",
        weightMode: "initializers",
        block: { batch: 2, guided: false, plans: [parsePlan("H1P1R1")] },
      });
      await models.release();
      expect(new Set(seen), level).toEqual(new Set(want));
    }
  });

  test("a refiner given as the base (and the reverse) is refused by file name", async () => {
    const base = await load("sit.safetensors");
    const refiner = await load("refiner.safetensors");
    await expect(openSamplingModels(node, { base: refiner, level: "model" })).rejects.toThrow(
      /refiner\.safetensors: this is a refiner checkpoint, expected a sit/,
    );
    await expect(openSamplingModels(node, { base, refiner: base, level: "model" })).rejects.toThrow(
      /sit\.safetensors: this is a sit checkpoint, expected a refiner/,
    );
  });

  test("class names come from the 'classes' metadata and must match the model", async () => {
    const base = await load("sit.safetensors");
    const n = base.config.numClasses;
    const names = Array.from({ length: n }, (_, i) => `c${i}`);
    expect(checkpointClassNames({ ...base, metadata: { classes: JSON.stringify(names) } })).toEqual(names);
    expect(checkpointClassNames(base)).toBeUndefined();
    expect(() => checkpointClassNames({ ...base, metadata: { classes: '["a","b"]' } })).toThrow(
      new RegExp(`lists 2 names, the model has ${n} classes`),
    );
    expect(() => checkpointClassNames({ ...base, metadata: { classes: "{" } })).toThrow(/not JSON/);
  });
});
