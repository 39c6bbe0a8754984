// Block-compiled sampling (one static graph per H/P/R block, state kept in the ORT worker) against
// per-call sampling, on the golden tiny SiT and refiner through ORT CPU.
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { refinerConfig, refinerGraph } from "@flowturbo/refiner";
import { sitGraph } from "@flowturbo/sit";
import { parsePlan } from "@flowturbo/solvers";
import type { Tensor } from "@flowturbo/tensor";
import { lastJson, needs, runTs, vulkanEnv, webgpuUnavailable } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { blockGraphs, blockWeights, compileBlocks, parseMethod, type SampleResult, sample } from "../src";
import { loadSafetensors, TINY } from "../../sit/test/golden";

const node = createNodeBackend({ threads: 1 });
afterAll(() => node.close());

let sit: Map<string, Tensor>;
let ref: Map<string, Tensor>;
beforeAll(async () => {
  sit = await loadSafetensors("sit.safetensors");
  ref = await loadSafetensors("refiner.safetensors");
});

const SHAPE = [TINY.keepChannels, TINY.inputSize, TINY.inputSize];
const REFINER = refinerConfig(TINY);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Per-call sampling with model-level (optimization "all") sessions: the reference. */
async function perCall(
  plan: string,
  n: number,
  cfg: number,
  batchSize?: number,
  interval?: readonly [number, number],
) {
  const base = await node.load({ graph: sitGraph(TINY), weights: sit });
  const refiner = await node.load({ graph: refinerGraph(REFINER), weights: ref });
  try {
    return await sample({
      base,
      refiner,
      shape: SHAPE,
      labels: Array.from({ length: n }, (_, i) => (7 * i + 3) % 1000),
      nullClass: 1000,
      method: parseMethod({ plan }),
      seed: 11,
      cfgScale: cfg,
      guidanceInterval: interval,
      batchSize,
    });
  } finally {
    await base.release();
    await refiner.release();
  }
}

async function blockCompiled(
  plan: string,
  n: number,
  cfg: number,
  batch: number,
  opts: {
    interval?: readonly [number, number];
    weightMode?: "shared" | "initializers";
    heunAsP?: boolean;
    method?: ReturnType<typeof parseMethod>;
  } = {},
): Promise<SampleResult & { kinds: string[] }> {
  const compiled = await compileBlocks(node, {
    base: TINY,
    refiner: REFINER,
    batch,
    guidance: cfg !== 1 ? { channels: "sit" } : undefined,
    weights: blockWeights(sit, ref),
    plans: [parsePlan(plan)],
    weightMode: opts.weightMode,
    heunAsP: opts.heunAsP,
  });
  const kinds = (["H", "P", "R"] as const).filter((k) => compiled.sessions[k]);
  try {
    if (opts.weightMode !== "initializers") expect(compiled.weights.location).toBe("worker");
    const result = await sample({
      compile: "block",
      blocks: compiled.sessions,
      shape: SHAPE,
      labels: Array.from({ length: n }, (_, i) => (7 * i + 3) % 1000),
      nullClass: 1000,
      method: opts.method ?? parseMethod({ plan }),
      seed: 11,
      cfgScale: cfg,
      guidanceInterval: opts.interval,
    });
    return { ...result, kinds };
  } finally {
    await compiled.release();
  }
}

describe("block graphs", () => {
  test("inputs, outputs and parameter names (base as the state dict, refiner prefixed)", () => {
    const g = blockGraphs({ base: TINY, refiner: REFINER, batch: 2, guidance: { channels: "sit" } });
    expect(g.stateShape).toEqual([4, 4, 8, 8]);
    expect(g.channels).toEqual([0, 1, 2]);
    const io = (k: "H" | "P" | "R") => [
      g[k]!.inputs.map((i) => `${i.value.name}[${i.value.shape}]`),
      g[k]!.outputs.map((o) => o.name),
    ];
    expect(io("H")).toEqual([
      ["x[4,4,8,8]", "t0[]", "t1[]", "s0[]", "s1[]", "y[4]"],
      ["x_next", "cache_next"],
    ]);
    expect(io("P")[0]).toContain("cache[4,4,8,8]");
    expect(io("R")).toEqual([
      ["x[4,4,8,8]", "t0[]", "t1[]", "s0[]", "s1[]", "y[4]", "v[4,4,8,8]"],
      ["x_next", "v_next", "cache_next"],
    ]);
    expect([...g.H!.params.keys()].sort()).toEqual([...sit.keys()].sort());
    expect([...g.R!.params.keys()].sort()).toEqual([...ref.keys()].map((k) => `refiner.${k}`).sort());
    const unguided = blockGraphs({ base: TINY, batch: 3 });
    expect(unguided.stateShape).toEqual([3, 4, 8, 8]);
    expect(unguided.R).toBeUndefined();
    expect(unguided.H!.inputs.map((i) => i.value.name)).toEqual(["x", "t0", "t1", "y"]);
  });
});

describe("block-compiled sampling equals per-call sampling (ORT CPU, golden tiny SiT + refiner)", () => {
  // max |block - per-call| over all output values; samples are O(1) (max |x| ~ 2-4)
  const cases: [string, number, number, number][] = [
    ["H1P2R2", 4, 2, 2], // plan, cfg, samples, compiled batch
    ["H2P3R2", 1.5, 3, 2], // two batches, the second padded
    ["P2R2", 4, 2, 2], // a first P block has no cache: it runs the H graph
    ["H2P2R1", 1, 2, 2], // no guidance: graphs without the doubled batch
  ];
  test.each(cases)("%s at cfg %s, %s samples in batches of %s", async (plan, cfg, n, batch) => {
    const a = await perCall(plan, n, cfg, batch);
    const b = await blockCompiled(plan, n, cfg, batch);
    const diff = maxAbsDiff(b.latents.data as Float32Array, a.latents.data as Float32Array);
    console.log(`${plan} cfg ${cfg}: max |block - per-call| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-5);
    expect(b.nfe).toEqual(a.nfe);
    const batches = Math.ceil(n / batch);
    // one upload of the noise and one download of the final x per batch; no state output came back to the host
    expect(b.transfers).toMatchObject({ stateUploads: batches, downloads: batches, hostOutputs: 0 });
    expect(b.transfers!.locations).toEqual(["worker"]);
    expect(b.transfers!.runs).toBe(batches * plan.match(/\d+/g)!.reduce((s, k) => s + Number(k), 0));
  });

  // heunAsP: no H graph; an H block (or a first P block) is a P run with t1 = t0 and a zero cache, then a P run
  test.each(cases)(
    "heunAsP: %s at cfg %s, %s samples in batches of %s: the same samples, no H session, one run more per H block",
    async (plan, cfg, n, batch) => {
      const a = await blockCompiled(plan, n, cfg, batch);
      const b = await blockCompiled(plan, n, cfg, batch, { heunAsP: true });
      expect(a.kinds).toContain("H");
      expect(b.kinds).not.toContain("H");
      const diff = maxAbsDiff(b.latents.data as Float32Array, a.latents.data as Float32Array);
      console.log(`${plan} cfg ${cfg}: max |heunAsP - H graph| = ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-5);
      expect(b.nfe).toEqual(a.nfe);
      const blocks = parsePlan(plan).blocks;
      const heunBlocks = blocks.filter((k, i) => k === "H" || (k === "P" && i === 0)).length;
      const batches = Math.ceil(n / batch);
      expect(b.transfers!.runs).toBe(a.transfers!.runs + batches * heunBlocks);
      expect(b.transfers).toMatchObject({ stateUploads: batches, downloads: batches, hostOutputs: 0 });
    },
  );

  test("heunAsP serves Heun (plan H{steps}) with the P graph alone", async () => {
    const a = await perCall("H3", 2, 1.5);
    const b = await blockCompiled("H3", 2, 1.5, 2, {
      heunAsP: true,
      method: parseMethod({ solver: "heun", steps: 3 }),
    });
    expect(b.kinds).toEqual(["P"]);
    expect(maxAbsDiff(b.latents.data as Float32Array, a.latents.data as Float32Array)).toBeLessThan(1e-5);
    expect(b.nfe).toEqual({ base: 6, refiner: 0 });
  });

  test("guidance interval (scale fed per block) and weights as initializers", async () => {
    const interval = [0.3, 0.8] as const;
    const a = await perCall("H1P3R2", 2, 4, undefined, interval);
    const b = await blockCompiled("H1P3R2", 2, 4, 2, { interval, weightMode: "initializers" });
    expect(maxAbsDiff(b.latents.data as Float32Array, a.latents.data as Float32Array)).toBeLessThan(1e-5);
  });

  test("Heun through block graphs (method heun = plan H{steps})", async () => {
    const a = await perCall("H3", 2, 1.5);
    const compiled = await compileBlocks(node, {
      base: TINY,
      batch: 2,
      guidance: { channels: "sit" },
      weights: blockWeights(sit),
      plans: [parsePlan("H3")],
    });
    const b = await sample({
      compile: "block",
      blocks: compiled.sessions,
      shape: SHAPE,
      labels: [3, 10],
      nullClass: 1000,
      method: parseMethod({ solver: "heun", steps: 3 }),
      seed: 11,
      cfgScale: 1.5,
    });
    await compiled.release();
    expect(maxAbsDiff(b.latents.data as Float32Array, a.latents.data as Float32Array)).toBeLessThan(1e-5);
    expect(b.nfe).toEqual({ base: 6, refiner: 0 });
  });

  test("in-thread ORT returns outputs to the host: the counter sees every copy", async () => {
    const inThread = createNodeBackend({ worker: false, threads: 1 });
    try {
      const compiled = await compileBlocks(inThread, {
        base: TINY,
        refiner: REFINER,
        batch: 1,
        guidance: { channels: "sit" },
        weights: blockWeights(sit, ref),
        plans: [parsePlan("H1P1R1")],
      });
      expect(compiled.weights.location).toBe("host");
      const r = await sample({
        compile: "block",
        blocks: compiled.sessions,
        shape: SHAPE,
        labels: [5],
        nullClass: 1000,
        method: parseMethod({ plan: "H1P1R1" }),
        seed: 0,
        cfgScale: 2,
      });
      expect(r.transfers).toMatchObject({ downloads: 0, hostOutputs: 2 + 2 + 3, locations: ["host"] });
    } finally {
      await inThread.close();
    }
  });

  test("mismatches are errors: guidance mode, batch size, method", async () => {
    const compiled = await compileBlocks(node, {
      base: TINY,
      batch: 1,
      weights: blockWeights(sit),
      plans: [parsePlan("H2")],
    });
    const req = {
      compile: "block" as const,
      blocks: compiled.sessions,
      shape: SHAPE,
      labels: [1],
      nullClass: 1000,
      seed: 0,
    };
    await expect(sample({ ...req, method: parseMethod({ plan: "H2" }), cfgScale: 4 })).rejects.toThrow(
      /without guidance/,
    );
    await expect(
      sample({ ...req, labels: [1, 2], method: parseMethod({ plan: "H2" }), batchSize: 2 }),
    ).rejects.toThrow(/exceeds the compiled block batch 1/);
    await expect(sample({ ...req, method: parseMethod({ solver: "dopri5" }) })).rejects.toThrow(
      /not 'dopri5'/,
    );
    await expect(sample({ ...req, method: parseMethod({ plan: "H1R1" }) })).rejects.toThrow(
      /needs a compiled R block/,
    );
    await compiled.release();
  });
});

/** One compile level of bench/blocks.ts's JSON report. */
interface BenchLevel {
  provider: string;
  weightsLocation?: string;
  transfers: Record<string, unknown>;
  maxAbsDiffVsRef: number;
}

describe("WebGPU (Dawn; SwiftShader here)", () => {
  test("block sampling keeps weights and state in GPU buffers: one download per batch, no state output on the host", async (ctx) => {
    needs(ctx, "WebGPU (Dawn on a Vulkan ICD)", webgpuUnavailable());
    // Dawn reads the ICD at process start: the benchmark runs in a child process on WebGPU
    const args = [
      "--models",
      "tiny",
      "--provider",
      "webgpu",
      "--runs",
      "1",
      "--plans",
      "H1P2R2",
      "--heun",
      "",
      "--levels",
      "model,block",
      "--cfg",
      "4",
    ];
    const child = await runTs(join(import.meta.dirname, "../bench/blocks.ts"), { args, env: vulkanEnv() });
    expect(child.code, child.stderr).toBe(0);
    const { levels } = lastJson<{ results: { levels: Record<string, BenchLevel> }[] }>(child.stdout)
      .results[0];
    expect(levels.model.provider).toBe("webgpu");
    expect(levels.block.provider).toBe("webgpu");
    expect(levels.block.weightsLocation).toBe("gpu-buffer");
    // 5 block runs (H, P, P, R, R): the state went up once and came down once, never as a host output
    expect(levels.block.transfers.H1P2R2).toEqual({
      stateUploads: 1,
      downloads: 1,
      stepDownloads: 0,
      hostOutputs: 0,
      runs: 5,
      locations: ["gpu-buffer"],
    });
    // the same computation as per-call sampling on the same device
    expect(levels.block.maxAbsDiffVsRef).toBeLessThan(1e-5);
  });
});
