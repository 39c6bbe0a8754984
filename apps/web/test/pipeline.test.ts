// The web app's requests through FlowTurboPipeline (as the worker runs them) in Node on ORT CPU: the same
// samples as `flowturbo sample` for the same settings, at the compile levels the page offers.
import { createNodeBackend } from "@flowturbo/backend-node";
import { FlowTurboPipeline, parseMethod } from "@flowturbo/pipeline";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { keepsAhead, warmUpRequest } from "../src/compileAhead";
import type { GenerateRequest } from "../src/protocol";
import { cliSample, embeddedCheckpoint, maxAbsDiff } from "./embedded";

const node = createNodeBackend({ threads: 1 });
let pipeline: FlowTurboPipeline;

beforeAll(async () => {
  const base = await embeddedCheckpoint("base.safetensors");
  const refiner = await embeddedCheckpoint("refiner.safetensors");
  pipeline = await FlowTurboPipeline.open(node, { base, refiner }, { providers: ["cpu"] });
});
afterAll(async () => {
  await pipeline.release();
  await node.close();
});

/** What the page sends for class 3, plan H1P2R2, cfg 1.5, seed 7, 3 images in one batch. */
const request = (compile: GenerateRequest["compile"]): GenerateRequest => ({
  labels: [3, 3, 3],
  method: { plan: "H1P2R2" },
  cfg: 1.5,
  seed: 7,
  batch: 3,
  compile,
  preview: false,
});

describe("the web app's pipeline", () => {
  test.each(["block", "model"] as const)("compile %s reproduces flowturbo sample", async (compile) => {
    const r = request(compile);
    const got = await pipeline.generate({ ...r, method: parseMethod(r.method) });
    const want = await cliSample({ plan: "H1P2R2", seed: 7, classId: 3, n: 3, cfg: 1.5, compile });
    expect(got.images!.shape).toEqual([3, 3, 32, 32]);
    expect(maxAbsDiff(got.images!.toFloat32(), want)).toBeLessThan(1e-5); // thread counts differ: summation order
    expect(got.provider).toBe("cpu");
    expect(got.compile).toBe(compile);
  });

  test("compile auto (undefined) is the pipeline's default: block for plans, model for other solvers", async () => {
    const plan = await pipeline.generate({ ...request(undefined), method: parseMethod({ plan: "H1P2R2" }) });
    expect(plan.compile).toBe("block");
    const euler = await pipeline.generate({
      ...request(undefined),
      method: parseMethod({ solver: "euler", steps: 2 }),
    });
    expect(euler.compile).toBe("model");
  });

  test("compile ahead: kept for a Generate on the same sessions, dropped by other settings, a load or another prepare", () => {
    const ahead = request("block");
    const generate = (r: Partial<GenerateRequest>) => ({
      type: "generate" as const,
      id: 2,
      request: { ...ahead, ...r },
    });
    // other seed, classes, preview, or a plan of the same block kinds (H, P, R): the same sessions
    for (const same of [
      { seed: 8 },
      { labels: [1, 2, 5] },
      { preview: true },
      { method: { plan: "H1P4R1" } },
    ])
      expect(keepsAhead(pipeline, ahead, generate(same)), JSON.stringify(same)).toBe(true);
    for (const other of [
      { labels: [3, 3] }, // batch of 2
      { method: { plan: "H1P2" } }, // no R block
      { cfg: 1 }, // unguided
      { compile: "model" as const },
      { method: { plan: "bogus" } }, // not a request the pipeline takes
    ])
      expect(keepsAhead(pipeline, ahead, generate(other)), JSON.stringify(other)).toBe(false);
    expect(keepsAhead(pipeline, ahead, { type: "prepare", request: ahead })).toBe(false);
    expect(
      keepsAhead(pipeline, ahead, { type: "load", id: 3, model: { base: { url: "x" } }, backend: "wasm" }),
    ).toBe(false);
    expect(keepsAhead(undefined, ahead, generate({}))).toBe(false); // no model loaded
  });

  test("the warm-up after compiling ahead: one block of each run, on the sessions compiled, no decode", async () => {
    const params = { ...request("block"), method: parseMethod({ plan: "H1P5R3" }) };
    const warm = warmUpRequest(pipeline, params)!;
    expect(warm.method).toMatchObject({ kind: "plan", text: "H1P1R1" });
    expect(warm.decode).toBe(false);
    await pipeline.sessions(params);
    expect(pipeline.hasSessions(warm)).toBe(true);
    const r = await pipeline.generate(warm);
    expect(r.nfe.base).toBeLessThan((await pipeline.generate(params)).nfe.base);
    // Heun N runs as plan HN: one H block
    const heun = warmUpRequest(pipeline, { ...params, method: parseMethod({ solver: "heun", steps: 6 }) });
    expect(heun?.method).toMatchObject({ kind: "plan", text: "H1" });
    // per-call levels have no block graphs to warm
    expect(warmUpRequest(pipeline, { ...params, compile: "model" })).toBeUndefined();
    expect(
      warmUpRequest(pipeline, { ...params, method: parseMethod({ solver: "euler", steps: 4 }) }),
    ).toBeUndefined();
  });
});
