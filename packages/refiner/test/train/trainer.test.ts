import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { Tensor } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  baseFeeds,
  baseTrainingStep,
  proceduralWeights,
  type SiTConfig,
  sitInitialWeights,
  syntheticSet,
  type TrainState,
  trainCheckpointChunks,
} from "@flowturbo/sit";
import { readTrainCheckpointFile, train } from "@flowturbo/sit/node";
import { refinerConfig, refinerFeeds, refinerTrainingStep, STUDENT, TEACHER } from "../../src";

const tiny: SiTConfig = {
  inputSize: 8,
  patchSize: 2,
  inChannels: 3,
  outChannels: 3,
  keepChannels: 3,
  hiddenSize: 32,
  depth: 2,
  numHeads: 2,
  numClasses: 3,
  mlpRatio: 4,
};
const B = 4;
const STEPS = 6;
const set = syntheticSet(10, 3, 8);
const backend = createNodeBackend({ threads: 1 });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-train-"));
});
afterAll(async () => {
  await backend.close();
  await rm(dir, { recursive: true, force: true });
});

function maxStateDiff(a: TrainState, b: TrainState): number {
  let d = 0;
  const maps: [Map<string, Tensor>, Map<string, Tensor> | undefined][] = [
    [a.params, b.params],
    [a.m, b.m],
    [a.v, b.v],
    [a.ema ?? new Map(), b.ema],
  ];
  for (const [x, y] of maps) {
    for (const [n, t] of x) {
      const u = y!.get(n)!;
      expect(u.shape).toEqual(t.shape);
      for (let i = 0; i < t.size; i++) d = Math.max(d, Math.abs(Number(t.data[i]) - Number(u.data[i])));
    }
  }
  return d;
}

const steps = {
  base: () => {
    const step = baseTrainingStep(tiny, B, { lr: 1e-2, emaDecay: 0.9, maxGradNorm: 1 });
    return {
      step,
      weights: sitInitialWeights(step.graph, { seed: 1 }),
      data: baseFeeds({ set, batch: B, seed: 5 }),
    };
  },
  refiner: () => {
    const student = refinerConfig(tiny);
    const step = refinerTrainingStep(tiny, student, B, { lr: 1e-2, emaDecay: 0.9 });
    const weights = new Map([
      ...sitInitialWeights(step.graph, { seed: 2, prefix: TEACHER }),
      ...sitInitialWeights(step.graph, { seed: 3, prefix: STUDENT }),
    ]);
    // a teacher that is not zero (adaLN-Zero would make its velocity 0)
    for (const [n, t] of proceduralWeights(step.graph)) if (n.startsWith(`${TEACHER}.`)) weights.set(n, t);
    return { step, weights, data: refinerFeeds({ set, batch: B, seed: 5 }) };
  },
};

describe.each(["base", "refiner"] as const)("%s training through ORT CPU", (kind) => {
  test("stopping after k steps and resuming from the checkpoint file equals the uninterrupted run", async () => {
    const { step, weights, data } = steps[kind]();
    const full = await train({ backend, step, weights, data, steps: STEPS });
    expect(full.state.step).toBe(STEPS);
    expect(full.interrupted).toBe(false);

    const ckpt = join(dir, `${kind}-interrupted.safetensors`);
    const log = join(dir, `${kind}.jsonl`);
    const ctl = new AbortController();
    const first = await train({
      backend,
      step,
      weights,
      data,
      steps: STEPS,
      checkpointPath: ckpt,
      logPath: log,
      signal: ctl.signal,
      metadata: { seed: "5" },
      onProgress: (p) => {
        if (p.step === 2) ctl.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(first.state.step).toBe(2);
    const saved = await readTrainCheckpointFile(ckpt);
    expect(saved.state.step).toBe(2);
    expect(saved.metadata.seed).toBe("5");
    expect(maxStateDiff(first.state, saved.state)).toBe(0);
    // a different backend instance (a new process would be the same)
    const other = createNodeBackend({ threads: 1 });
    const resumed = await train({
      backend: other,
      step,
      weights,
      data,
      steps: STEPS,
      resume: ckpt,
      logPath: log,
    });
    await other.close();
    expect(resumed.startStep).toBe(2);
    expect(resumed.state.step).toBe(STEPS);
    expect(maxStateDiff(full.state, resumed.state)).toBeLessThan(1e-6);
    // the parameters did move, and the EMA lags them
    expect(
      maxStateDiff(full.state, { ...full.state, params: weightsOf(step.trainable, weights) }),
    ).toBeGreaterThan(1e-3);
    const lines = (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines.every((l) => Number.isFinite(l.loss) && Number.isFinite(l.grad_norm))).toBe(true);
  });
});

function weightsOf(names: readonly string[], w: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  return new Map(names.map((n) => [n, w.get(n)!]));
}

describe("crash safety", () => {
  test("a crash after the last periodic checkpoint resumes from it to the same result; the log has no duplicates", async () => {
    const { step, weights, data } = steps.base();
    const full = await train({ backend, step, weights, data, steps: STEPS });
    const ckpt = join(dir, "crash.safetensors");
    const log = join(dir, "crash.jsonl");
    const crashing = (s: number) => {
      if (s === 5) throw new Error("simulated crash");
      return data(s);
    };
    await expect(
      train({
        backend,
        step,
        weights,
        data: crashing,
        steps: STEPS,
        checkpointPath: ckpt,
        checkpointEvery: 2,
        logPath: log,
      }),
    ).rejects.toThrow("simulated crash");
    expect((await readTrainCheckpointFile(ckpt)).state.step).toBe(4);
    const resumed = await train({
      backend,
      step,
      weights,
      data,
      steps: STEPS,
      resume: ckpt,
      checkpointPath: ckpt,
      logPath: log,
    });
    expect(maxStateDiff(full.state, resumed.state)).toBeLessThan(1e-6);
    expect((await readTrainCheckpointFile(ckpt)).state.step).toBe(STEPS);
    const steps_ = (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    expect(steps_).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  test("checkpoint files are complete or absent: a write that fails midway leaves the previous file", async () => {
    const { step, weights, data } = steps.base();
    const ckpt = join(dir, "atomic.safetensors");
    const r = await train({ backend, step, weights, data, steps: 2, checkpointPath: ckpt });
    const before = await readFile(ckpt);
    function* failing() {
      let n = 0;
      for (const chunk of trainCheckpointChunks({ ...r.state, step: 99 })) {
        if (n++ === 3) throw new Error("disk full");
        yield chunk;
      }
    }
    await expect(writeFileStreaming(ckpt, failing())).rejects.toThrow("disk full");
    expect(Buffer.compare(await readFile(ckpt), before)).toBe(0);
    expect((await readTrainCheckpointFile(ckpt)).state.step).toBe(2);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  test("resuming a checkpoint of another model is refused", async () => {
    const { step, data } = steps.base();
    const ckpt = join(dir, "atomic.safetensors");
    const other = baseTrainingStep({ ...tiny, hiddenSize: 16 }, B);
    await expect(
      train({
        backend,
        step: other,
        weights: sitInitialWeights(other.graph, { seed: 0 }),
        data,
        steps: 3,
        resume: ckpt,
      }),
    ).rejects.toThrow(/shape/);
    expect(step.trainable.length).toBeGreaterThan(0);
  });

  test("a resume asked for fewer steps than its checkpoint has is refused; a NaN loss names the checkpoint on disk", async () => {
    const { step, weights, data } = steps.base();
    const ckpt = join(dir, "past.safetensors");
    await train({ backend, step, weights, data, steps: 3, checkpointPath: ckpt });
    await expect(
      train({ backend, step, weights, data, steps: 2, resume: ckpt, checkpointPath: ckpt }),
    ).rejects.toThrow(/past\.safetensors is at step 3, past the 2 steps asked for/);
    const nan = (s: number) => {
      const feeds = data(s);
      const x = feeds.x1.toFloat32().fill(Number.NaN);
      return { ...feeds, x1: new Tensor("float32", feeds.x1.shape, x) };
    };
    await expect(train({ backend, step, weights, data: nan, steps: 2 })).rejects.toThrow(
      /at step 1 is not finite; no checkpoint was written/,
    );
    await expect(
      train({ backend, step, weights, data: nan, steps: 5, resume: ckpt, checkpointPath: ckpt }),
    ).rejects.toThrow(/at step 4 is not finite; the last checkpoint is .*past\.safetensors \(step 3\)/);
  });
});
