// FlowTurboPipeline on the golden tiny SiT and refiner (ORT CPU): compile levels agree, sessions are
// reused while the settings stay, per-stage timings, cancellation, and the messages of every rule.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import type { Backend } from "@flowturbo/core";
import { loadCheckpoint, type ModelCheckpoint } from "@flowturbo/sit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Tensor } from "@flowturbo/tensor";
import {
  checkRequest,
  FlowTurboPipeline,
  type GenerateParams,
  INTERACTIVE_LIMITS,
  NonFiniteSamplesError,
  parseMethod,
  RequestError,
  ruleInput,
  type SampleProgress,
} from "../src";
import { FIXTURES } from "../../sit/test/golden";

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
let pipeline: FlowTurboPipeline;

async function load(file: string): Promise<ModelCheckpoint> {
  return loadCheckpoint(new Uint8Array(await readFile(join(FIXTURES, file))), { file, heads: 4 });
}

beforeAll(async () => {
  base = await load("sit.safetensors");
  refiner = await load("refiner.safetensors");
  pipeline = await FlowTurboPipeline.open(counting, { base, refiner }, { keepSessions: 2 });
});
afterAll(async () => {
  await pipeline.release();
  await node.close();
});

const params = (p: Partial<GenerateParams> = {}): GenerateParams => ({
  labels: [3, 207, 3],
  method: parseMethod({ plan: "H1P2R2" }),
  cfg: 1.5,
  seed: 7,
  batch: 3,
  decode: false, // a latent model: samples only
  ...p,
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("FlowTurboPipeline", () => {
  test("compile levels none, model and block give the same samples; block is the default for plans", async () => {
    const block = await pipeline.generate(params());
    expect(block.compile).toBe("block");
    expect(block.transfers).toMatchObject({ stateUploads: 1, downloads: 1, hostOutputs: 0 });
    for (const compile of ["model", "none"] as const) {
      const r = await pipeline.generate(params({ compile }));
      expect(r.compile).toBe(compile);
      expect(maxAbsDiff(r.latents.toFloat32(), block.latents.toFloat32()), compile).toBeLessThan(1e-5);
    }
    expect(block.nfe).toEqual({ base: 4, refiner: 4 });
    expect(block.timings.base).toBeGreaterThan(0);
    expect(block.timings.refiner).toBeGreaterThan(0);
    expect(block.timings.total).toBeGreaterThanOrEqual(block.timings.base + block.timings.refiner);
    expect(block.images).toBeUndefined();
  });

  test("sessions are reused while the compile settings stay; a new seed or class changes the samples", async () => {
    const first = await pipeline.generate(params());
    const before = loads;
    const seeded = await pipeline.generate(params({ seed: 8 }));
    const classed = await pipeline.generate(params({ labels: [5, 5, 5] }));
    expect(loads).toBe(before);
    expect(maxAbsDiff(first.latents.toFloat32(), seeded.latents.toFloat32())).toBeGreaterThan(0.1);
    expect(maxAbsDiff(first.latents.toFloat32(), classed.latents.toFloat32())).toBeGreaterThan(1e-3);
    await pipeline.generate(params({ method: parseMethod({ plan: "H2P2" }) })); // other block kinds: compiled
    expect(loads).toBeGreaterThan(before);
  });

  test("a baseline solver runs on model sessions by default; Heun N runs as block plan HN", async () => {
    const euler = await pipeline.generate(
      params({ method: parseMethod({ solver: "euler", steps: 3 }), cfg: 1 }),
    );
    expect(euler.compile).toBe("model");
    expect(euler.nfe).toEqual({ base: 3, refiner: 0 });
    expect(euler.timings.refiner).toBe(0);
    const heun = await pipeline.generate(params({ method: parseMethod({ solver: "heun", steps: 2 }) }));
    const plan = await pipeline.generate(params({ method: parseMethod({ plan: "H2" }) }));
    expect(heun.compile).toBe("block");
    expect(heun.latents.toFloat32()).toEqual(plan.latents.toFloat32());
  });

  test("cancelling stops the generation with an AbortError", async () => {
    const abort = new AbortController();
    const run = pipeline.generate(params({ method: parseMethod({ solver: "euler", steps: 50 }) }), {
      signal: abort.signal,
      onProgress: (p) => {
        if (p.step >= 2) abort.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
  });

  test("progress: a compile event when sessions open, none when reused; previews per block at level block", async () => {
    const p = params({ method: parseMethod({ plan: "H1P1R1" }), labels: [1, 2, 3, 4, 5], batch: 2 });
    const run = async (previews: boolean) => {
      const events: SampleProgress[] = [];
      const r = await pipeline.generate(p, { previews, onProgress: (e) => events.push(e) });
      return { r, events };
    };
    expect(pipeline.hasSessions(p)).toBe(false);
    const first = await run(true);
    expect(pipeline.hasSessions(p)).toBe(true);
    expect(first.events[0]).toMatchObject({ phase: "compile", fraction: 0, batches: 3, steps: 3, total: 5 });
    const perBatch = ["sample", "sample", "sample", "done"];
    expect(first.events.slice(1).map((e) => e.phase)).toEqual([...perBatch, ...perBatch, ...perBatch]);
    // the state of every block reached the host: ORT CPU keeps it in its worker between blocks
    const rows = 2 * 2; // batch 2, doubled under guidance
    const per = pipeline.sampleShape.reduce((a, b) => a * b, 1);
    const sizes = first.events.filter((e) => e.phase === "sample").map((e) => e.x?.length);
    expect(sizes).toEqual(new Array(9).fill(rows * per));
    expect(first.r.transfers).toMatchObject({ downloads: 3, stepDownloads: 6, hostOutputs: 0 });
    const fractions = first.events.map((e) => e.fraction);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThan(fractions[i - 1]);
    const again = await run(false);
    expect(again.events[0].phase).toBe("sample"); // sessions reused: nothing to compile
    expect(again.events.filter((e) => e.phase === "readback")).toHaveLength(3);
    expect(again.events.some((e) => e.x)).toBe(false);
    expect(again.r.transfers).toMatchObject({ downloads: 3, stepDownloads: 0, hostOutputs: 0 });
    expect(again.r.latents.toFloat32()).toEqual(first.r.latents.toFloat32());
  });

  test("compiling ahead: sessions() opens what a later generate() reuses; sessionsId says which requests share them", async () => {
    const p = params({ method: parseMethod({ plan: "H1P2R1" }), labels: [1, 2, 3], seed: 7 });
    // other samples and another plan of the same block kinds (H, P, R graphs): the same sessions
    const other = { ...p, labels: [4, 5, 6], seed: 8, method: parseMethod({ plan: "H1P3R2" }) };
    expect(pipeline.sessionsId(other)).toBe(pipeline.sessionsId(p));
    for (const change of [{ labels: [1, 2] }, { method: parseMethod({ plan: "H1P2" }) }, { cfg: 1 }])
      expect(pipeline.sessionsId({ ...p, ...change }), Object.keys(change)[0]).not.toBe(
        pipeline.sessionsId(p),
      );
    expect(pipeline.sessionsId({ ...p, compile: "model" })).toBe("model");
    await pipeline.sessions(p);
    const before = loads;
    expect(pipeline.hasSessions(other)).toBe(true);
    const r = await pipeline.generate(other);
    expect(loads).toBe(before); // nothing compiled in the request
    expect(r.nfe.base).toBeGreaterThan(0);
  });

  test("a cancel while sessions open stops before the next session; nothing stays open", async () => {
    const p = params({ method: parseMethod({ plan: "H1P3" }), labels: [1, 2] });
    const abort = new AbortController();
    const before = loads;
    await expect(
      pipeline.generate(p, {
        signal: abort.signal,
        onProgress: (e) => {
          if (e.phase === "compile") abort.abort();
        },
      }),
    ).rejects.toMatchObject({ name: "AbortError" });
    expect(loads).toBe(before); // no session was loaded after the cancel
    expect(pipeline.hasSessions(p)).toBe(false);
    const abort2 = new AbortController();
    let yields = 0;
    await expect(
      pipeline.generate(p, {
        signal: abort2.signal,
        beforeRun: async () => {
          if (++yields === 2) abort2.abort(); // after the first session load
        },
      }),
    ).rejects.toMatchObject({ name: "AbortError" });
    expect(loads).toBe(before + 1);
    expect(pipeline.hasSessions(p)).toBe(false);
    const r = await pipeline.generate(p);
    expect(r.nfe.base).toBe(5);
  });

  test("the rules without the models: ruleInput + checkRequest give the pipeline's problems; interactive limits", () => {
    const model = { numClasses: 1000, hasRefiner: true };
    for (const p of [params(), params({ labels: [1000], cfg: -1 }), params({ batch: 0, seed: Number.NaN })])
      expect(checkRequest(ruleInput(p), model)).toEqual(pipeline.check(p));
    const many = params({ labels: new Array(65).fill(1), batch: 65 });
    expect(pipeline.check(many)).toEqual([]);
    expect(pipeline.check(many, INTERACTIVE_LIMITS)).toEqual([
      { field: "samples", message: "the number of samples must be in 1..64, got 65" },
      { field: "batch", message: "batch must be an integer in 1..64, got 65" },
    ]);
    expect(pipeline.check(params({ labels: [1000] }))[0].field).toBe("labels"); // a class; the count is "samples"
    // an empty form field reaches the rules as NaN
    expect(pipeline.check(params({ cfg: Number.NaN, seed: Number.NaN })).map((q) => q.message)).toEqual([
      "guidance scale must be a number in 0..100 (1 = no guidance), it is empty or not a number",
      `seed must be an integer in 0..${Number.MAX_SAFE_INTEGER}, it is empty or not a number`,
    ]);
  });

  test("every rule a request breaks is named, before any session opens", async () => {
    const plain = await FlowTurboPipeline.open(node, { base });
    const fields = (p: GenerateParams, on = pipeline) => on.check(p).map((x) => x.field);
    expect(plain.check(params())[0].message).toMatch(/plan H1P2R2 has refiner \(R\) steps but no refiner/);
    expect(fields(params({ labels: [1000] }))).toEqual(["labels"]);
    expect(pipeline.check(params({ labels: [1000] }))[0].message).toMatch(
      /class 1000 is not a class of this model \(0\.\.999\)/,
    );
    expect(
      pipeline.check(params({ method: parseMethod({ solver: "rk4", steps: 4 }), compile: "block" }))[0]
        .message,
    ).toMatch(/compile "block" runs FlowTurbo plans and Heun, not 'rk4'/);
    expect(fields(params({ cfg: -1 }))).toEqual(["cfg"]);
    expect(fields(params({ cfg: 1e308 }))).toEqual(["cfg"]);
    expect(fields(params({ seed: -1 }))).toEqual(["seed"]);
    expect(fields(params({ batch: 0 }))).toEqual(["batch"]);
    expect(fields(params({ labels: [] }))).toEqual(["samples"]);
    expect(fields(params({ decode: true }))).toEqual(["vae"]);
    const per = 4 * 8 * 8; // the tiny SiT's [4, 8, 8] latents
    expect(pipeline.check(params({ noise: new Float32Array(per) }))[0].message).toMatch(
      /the noise has 256 values, expected 3 samples x 256 = 768/,
    );
    const nan = new Float32Array(3 * per);
    nan[per + 5] = Number.NaN;
    expect(pipeline.check(params({ noise: nan }))).toEqual([
      { field: "noise", message: "the noise is not finite: value 261 (sample 1) is NaN" },
    ]);
    expect(pipeline.check(params({ decode: true }))[0].message).toMatch(
      /sit\.safetensors generates 4-channel latents: give a VAE/,
    );
    await expect(pipeline.generate(params({ cfg: Number.NaN }))).rejects.toBeInstanceOf(RequestError);
  });

  test("non-finite samples are an error at every compile level, never NaN images", async () => {
    const weights = new Map(base.weights);
    const w = weights.get("final_layer.linear.weight")!;
    weights.set("final_layer.linear.weight", new Tensor("float32", w.shape, w.toFloat32().fill(Number.NaN)));
    const broken = await FlowTurboPipeline.open(node, { base: { ...base, weights }, refiner });
    try {
      for (const compile of ["block", "model"] as const) {
        const run = broken.generate(params({ compile }));
        await expect(run, compile).rejects.toBeInstanceOf(NonFiniteSamplesError);
        await expect(run, compile).rejects.toThrow(
          compile === "block"
            ? /samples 0\.\.2: sample 0 is not finite \(NaN or infinity\) after sampling; the model's weights/
            : /samples 0\.\.2: the base model's velocity at t=0 \(step 0\) is not finite/,
        );
      }
    } finally {
      await broken.release();
    }
  });

  test("a refiner as the base model (and the reverse) is refused by file name", async () => {
    await expect(FlowTurboPipeline.open(node, { base: refiner })).rejects.toThrow(
      /refiner\.safetensors: this is a refiner checkpoint, expected a sit/,
    );
    await expect(FlowTurboPipeline.open(node, { base, refiner: base })).rejects.toThrow(
      /sit\.safetensors: this is a sit checkpoint, expected a refiner/,
    );
  });

  test("the recommended guidance scale comes from the model's flowturbo.sampling metadata", async () => {
    const withCfg = (sampling?: string): ModelCheckpoint => ({
      ...base,
      metadata: sampling === undefined ? {} : { "flowturbo.sampling": sampling },
    });
    expect((await FlowTurboPipeline.open(node, { base: withCfg('{"cfg":2.5}') })).defaults).toEqual({
      cfg: 2.5,
    });
    expect((await FlowTurboPipeline.open(node, { base: withCfg() })).defaults).toEqual({});
    await expect(FlowTurboPipeline.open(node, { base: withCfg('{"cfg":-1}') })).rejects.toThrow(
      /cfg must be a number >= 0/,
    );
  });
});
