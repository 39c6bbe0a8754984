// The web app's pipeline (Generator) in Node on ORT CPU: the same samples as `flowturbo sample`, session
// reuse, per-stage timings, cancellation and the messages users see for bad settings.
import { createNodeBackend } from "@flowturbo/backend-node";
import type { Backend } from "@flowturbo/core";
import type { ModelCheckpoint } from "@flowturbo/refiner";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type GenerateParams, Generator } from "../src/generator";
import { cliSample, embeddedCheckpoint, maxAbsDiff } from "./embedded";

const node = createNodeBackend({ threads: 1 });
let loads = 0;
const counting: Backend = {
  name: node.name,
  providers: () => node.providers(),
  load: (source, opts) => {
    loads++;
    return node.load(source, opts);
  },
};
let base: ModelCheckpoint;
let refiner: ModelCheckpoint;
let gen: Generator;

beforeAll(async () => {
  base = await embeddedCheckpoint("base.safetensors");
  refiner = await embeddedCheckpoint("refiner.safetensors");
  gen = new Generator(counting, { base, refiner }, ["cpu"]);
});
afterAll(async () => {
  await gen.release();
  await node.close();
});

const params = (p: Partial<GenerateParams> = {}): GenerateParams => ({
  labels: [3, 3, 3],
  method: { plan: "H1P2R2" },
  cfg: 1.5,
  seed: 7,
  batch: 3,
  compile: "block",
  ...p,
});

describe("Generator", () => {
  test.each(["block", "model"] as const)("compile %s reproduces flowturbo sample", async (compile) => {
    const got = await gen.generate(params({ compile }));
    const want = await cliSample({ plan: "H1P2R2", seed: 7, classId: 3, n: 3, cfg: 1.5, compile });
    expect(got.images.shape).toEqual([3, 3, 32, 32]);
    expect(maxAbsDiff(got.images.toFloat32(), want)).toBeLessThan(1e-5); // thread counts differ: summation order
    expect(got.provider).toBe("cpu");
    expect(got.nfe).toEqual({ base: 4, refiner: 4 });
    expect(got.timings.base).toBeGreaterThan(0);
    expect(got.timings.refiner).toBeGreaterThan(0);
    expect(got.timings.total).toBeGreaterThanOrEqual(got.timings.base + got.timings.refiner);
  });

  test("sessions are reused while the compile settings stay; a new seed or class changes the images", async () => {
    const first = await gen.generate(params());
    const before = loads;
    const seeded = await gen.generate(params({ seed: 8 }));
    const classed = await gen.generate(params({ labels: [5, 5, 5] }));
    expect(loads).toBe(before);
    expect(maxAbsDiff(first.images.toFloat32(), seeded.images.toFloat32())).toBeGreaterThan(0.1);
    expect(maxAbsDiff(first.images.toFloat32(), classed.images.toFloat32())).toBeGreaterThan(0.05);
    await gen.generate(params({ method: { plan: "H2P2" } })); // another block kind set: recompiled
    expect(loads).toBeGreaterThan(before);
  });

  test("a baseline solver runs on model sessions", async () => {
    const r = await gen.generate(params({ method: { solver: "euler", steps: 3 }, compile: "model", cfg: 1 }));
    expect(r.nfe).toEqual({ base: 3, refiner: 0 });
    expect(r.timings.refiner).toBe(0);
  });

  test("cancelling stops the generation with an AbortError", async () => {
    const abort = new AbortController();
    const run = gen.generate(params({ method: { solver: "euler", steps: 50 }, compile: "model" }), {
      signal: abort.signal,
      onProgress: (p) => {
        if (p.step >= 2) abort.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
  });

  test("bad settings get a message naming what is wrong", async () => {
    const plain = new Generator(node, { base }, ["cpu"]);
    expect(plain.check(params())).toMatch(
      /plan H1P2R2 has refiner \(R\) steps but this model has no refiner/,
    );
    expect(gen.check(params({ labels: [9] }))).toMatch(/class 9 is not in 0\.\.8/);
    expect(gen.check(params({ method: { solver: "rk4", steps: 4 } }))).toMatch(
      /compile "block" runs FlowTurbo plans and Heun/,
    );
    expect(gen.check(params({ method: { plan: "H1X2" } }))).toBeDefined();
    expect(gen.check(params({ cfg: -1 }))).toMatch(/guidance scale/);
    await expect(gen.generate(params({ labels: [] }))).rejects.toThrow(/at least one sample/);
    const latent: ModelCheckpoint = {
      ...base,
      file: "sit-xl.onnx",
      config: { ...base.config, keepChannels: 4 },
    };
    expect(() => new Generator(node, { base: latent }, ["cpu"])).toThrow(
      /sit-xl\.onnx generates 4-channel latents: give a VAE/,
    );
  });

  test("the recommended guidance scale comes from the model's flowturbo.sampling metadata", () => {
    const withCfg = (sampling?: string): ModelCheckpoint => {
      const metadata = { ...(base.metadata ?? {}) };
      delete metadata["flowturbo.sampling"];
      if (sampling !== undefined) metadata["flowturbo.sampling"] = sampling;
      return { ...base, metadata };
    };
    expect(new Generator(node, { base: withCfg('{"cfg":2.5}') }, ["cpu"]).defaults).toEqual({ cfg: 2.5 });
    expect(new Generator(node, { base: withCfg() }, ["cpu"]).defaults).toEqual({});
    expect(() => new Generator(node, { base: withCfg('{"cfg":-1}') }, ["cpu"])).toThrow(
      /cfg must be a number >= 0/,
    );
  });
});
