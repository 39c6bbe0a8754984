import { createReferenceBackend } from "@flowturbo/core";
import { interpret, STEP_IO, Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import {
  BatchSampler,
  baseFeeds,
  baseObjective,
  baseTrainingStep,
  proceduralWeights,
  type SiTConfig,
  sitGraph,
  sitInitialWeights,
  syntheticSet,
} from "../../src";

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
const set = syntheticSet(10, 3, 8);

describe("base objective (flow matching, linear path, velocity loss)", () => {
  const feeds = baseFeeds({ set, batch: B, seed: 7 })(0);
  // force one dropped and one kept label so both branches are checked
  feeds.drop = new Tensor("bool", [B], Uint8Array.of(1, 0, 0, 1));

  test("loss = mean_b mean_chw (SiT(x_t, t, y_m) - (x1 - x0))^2, dropped labels -> null class", async () => {
    const obj = baseObjective(tiny, B);
    const weights = proceduralWeights(obj.graph);
    const out = interpret(obj.graph, feeds, { weights });
    // independently: x_t on the host, the plain SiT forward graph, MSE on the host
    const x1 = feeds.x1.toFloat64();
    const x0 = feeds.x0.toFloat64();
    const t = feeds.t.toFloat64();
    const size = 3 * 8 * 8;
    const xt = new Float32Array(B * size);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < size; i++)
        xt[b * size + i] = t[b] * x1[b * size + i] + (1 - t[b]) * x0[b * size + i];
    const y = Array.from(feeds.y.data as BigInt64Array, (v, b) => (feeds.drop.data[b] ? 3n : v));
    const sit = sitGraph(tiny, { batch: B });
    const v = interpret(
      sit,
      { x: new Tensor("float32", [B, 3, 8, 8], xt), t: feeds.t, y: Tensor.from("int64", [B], y) },
      { weights },
    ).v.toFloat64();
    const per = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let i = 0; i < size; i++) s += (v[b * size + i] - (x1[b * size + i] - x0[b * size + i])) ** 2;
      per[b] = s / size;
    }
    const got = out.loss_per_sample.toFloat64();
    for (let b = 0; b < B; b++) expect(got[b]).toBeCloseTo(per[b], 5);
    expect(out.loss.toFloat64()[0]).toBeCloseTo(per.reduce((a, c) => a + c, 0) / B, 5);
    // the null class changes the prediction: with labels not dropped the loss differs
    const kept = interpret(
      obj.graph,
      { ...feeds, drop: new Tensor("bool", [B], new Uint8Array(B)) },
      { weights },
    ).loss_per_sample.toFloat64();
    expect(Math.abs(kept[0] - got[0])).toBeGreaterThan(1e-6);
    expect(kept[1]).toBeCloseTo(got[1], 10);
  });

  test("training step: pos_embed frozen, gradients match finite differences, AdamW moves the weights", async () => {
    const step = baseTrainingStep(tiny, B, { lr: 1e-3, outputGradients: true });
    expect(step.trainable).not.toContain("pos_embed");
    expect(step.trainable).toContain("y_embedder.embedding_table.weight");
    const weights = proceduralWeights(step.graph);
    const session = await createReferenceBackend().load({
      graph: step.graph,
      weights,
      paramsAsInputs: (n) => step.trainable.includes(n),
    });
    const f: Record<string, Tensor> = { ...feeds, [STEP_IO.step]: Tensor.from("float32", [], [1]) };
    for (const n of step.trainable) {
      f[n] = weights.get(n)!;
      f[STEP_IO.m(n)] = Tensor.zeros("float32", weights.get(n)!.shape);
      f[STEP_IO.v(n)] = Tensor.zeros("float32", weights.get(n)!.shape);
    }
    const out = (await session.run(f)) as Record<string, Tensor>;
    const obj = baseObjective(tiny, B);
    const lossAt = (name: string, i: number, delta: number) => {
      const w = new Map(weights);
      const d = weights.get(name)!.toFloat64();
      d[i] += delta;
      w.set(name, new Tensor("float64", weights.get(name)!.shape, d));
      return interpret(obj.graph, feeds, { weights: w }).loss.toFloat64()[0];
    };
    for (const [name, i] of [
      ["final_layer.linear.weight", 5],
      ["blocks.1.attn.qkv.weight", 17],
      ["y_embedder.embedding_table.weight", 40],
      ["x_embedder.proj.bias", 3],
    ] as const) {
      const h = 1e-4;
      const fd = (lossAt(name, i, h) - lossAt(name, i, -h)) / (2 * h);
      const g = out[STEP_IO.grad(name)].toFloat64()[i];
      expect(Math.abs(g - fd), `${name}[${i}]: ${g} vs ${fd}`).toBeLessThan(1e-8 + 1e-5 * Math.abs(fd));
      const moved = out[STEP_IO.updated(name)].toFloat64()[i] - weights.get(name)!.toFloat64()[i];
      // Adam's first step is lr * sign(g) where |g| >> eps
      if (Math.abs(g) > 1e-5) expect(moved).toBeCloseTo(-1e-3 * Math.sign(g), 5);
    }
  });

  test("SiT's initialisation: adaLN-Zero makes the initial velocity zero (loss = E|x1 - x0|^2)", () => {
    const obj = baseObjective(tiny, B);
    const w = sitInitialWeights(obj.graph, { seed: 0 });
    expect([...w.keys()].sort()).toEqual([...obj.graph.params.keys()].sort());
    expect(
      w
        .get("final_layer.linear.weight")!
        .toFloat64()
        .every((x) => x === 0),
    ).toBe(true);
    const qkv = w.get("blocks.0.attn.qkv.weight")!.toFloat64();
    const bound = Math.sqrt(6 / (32 + 96));
    expect(Math.max(...qkv.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...qkv.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    const out = interpret(obj.graph, feeds, { weights: w });
    const x1 = feeds.x1.toFloat64();
    const x0 = feeds.x0.toFloat64();
    let s = 0;
    for (let i = 0; i < x1.length; i++) s += (x1[i] - x0[i]) ** 2;
    expect(out.loss.toFloat64()[0]).toBeCloseTo(s / x1.length, 5);
    // a different seed gives different weights; the same seed the same
    expect(sitInitialWeights(obj.graph, { seed: 1 }).get("blocks.0.attn.qkv.weight")!.data[0]).not.toBe(
      qkv[0],
    );
    expect(sitInitialWeights(obj.graph, { seed: 0 }).get("blocks.0.attn.qkv.weight")!.data[0]).toBe(
      w.get("blocks.0.attn.qkv.weight")!.data[0],
    );
  });
});

describe("training data: a pure function of (seed, step, sample)", () => {
  test("every epoch visits each example exactly once, in a seeded order", () => {
    const n = 10;
    const s = new BatchSampler(n, 4, 3);
    const seen = [...Array.from({ length: 5 }, (_, k) => s.indices(k).indices)].flatMap((a) => [...a]);
    expect([...seen.slice(0, 10)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...seen.slice(10, 20)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen.slice(0, 10)).not.toEqual(seen.slice(10, 20)); // a new permutation per epoch
    expect(new BatchSampler(n, 4, 4).indices(0).indices).not.toEqual(s.indices(0).indices);
  });

  test("label dropout draws about 10%", () => {
    const f = baseFeeds({ set, batch: 100, seed: 1 });
    let drops = 0;
    for (let k = 0; k < 20; k++) drops += (f(k).drop.data as Uint8Array).reduce((a, c) => a + c, 0);
    expect(drops / 2000).toBeGreaterThan(0.08);
    expect(drops / 2000).toBeLessThan(0.12);
  });
});
