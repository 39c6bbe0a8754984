// The emoji classifier (FD-emoji, class agreement) on a tiny configuration: the network on ONNX Runtime
// against the float64 interpreter, uint8 and float inputs, a few training steps, statistics with their
// convention, agreement counting, the classifier file and labelled inputs. No training beyond a few steps.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { createReferenceBackend } from "@flowturbo/core";
import { interpret, safetensorsChunks, STEP_IO, Tensor } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  AgreementAccumulator,
  argmaxRows,
  compareStats,
  type EmojiClassifierConfig,
  type EmojiClassifierModel,
  EmojiFeatureExtractor,
  emojiClassifierGraph,
  emojiClassifierInitialWeights,
  emojiClassifierTrainingStep,
  emojiEvaluate,
  mixtureStats,
  uint8Batches,
} from "../src";
import {
  emojiStatsForInput,
  labelFromFileName,
  labelledFolderBatches,
  loadEmojiClassifier,
  readEmojiStats,
  writeStatsFile,
} from "../src/node";

const TINY: EmojiClassifierConfig = {
  inputSize: 8,
  widths: [4, 8],
  blocks: [1, 1],
  groups: 2,
  numClasses: 3,
};

/** n deterministic 8x8 RGB images (uint8 NHWC) and labels 0..2: class k has a bright square in corner k. */
function toyImages(n: number): { images: Uint8Array; labels: number[] } {
  const images = new Uint8Array(n * 8 * 8 * 3).fill(255);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    labels.push(k);
    const [y0, x0] = [
      [0, 0],
      [0, 4],
      [4, 2],
    ][k];
    for (let y = y0; y < y0 + 4; y++)
      for (let x = x0; x < x0 + 4; x++)
        for (let c = 0; c < 3; c++) images[((i * 8 + y) * 8 + x) * 3 + c] = (40 * (c + k) + 7 * i) % 200;
  }
  return { images, labels };
}

function tinyModel(seed = 1): EmojiClassifierModel {
  const g = emojiClassifierGraph(TINY, 1);
  return {
    config: TINY,
    weights: emojiClassifierInitialWeights(g, seed),
    classNames: ["a", "b", "c"],
    sha256: `sha${seed}`,
  };
}

const node = createNodeBackend({ worker: false });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "metrics-emoji-"));
});
afterAll(async () => {
  await node.close();
  await rm(dir, { recursive: true, force: true });
});

describe("emoji classifier network", () => {
  test("ONNX Runtime matches the float64 interpreter; uint8 NHWC and [0,1] float NCHW inputs agree", async () => {
    const model = tinyModel();
    const { images } = toyImages(5);
    const ort = new EmojiFeatureExtractor(node, model, { batchSize: 4 });
    const ref = new EmojiFeatureExtractor(createReferenceBackend(), model, { batchSize: 4 });
    const batch = { kind: "uint8" as const, data: images, count: 5, height: 8, width: 8 };
    const a = await ort.extract(batch);
    const b = await ref.extract(batch);
    expect(a.features.length).toBe(5 * 8);
    expect(a.logits.length).toBe(5 * 3);
    for (let i = 0; i < a.features.length; i++) expect(a.features[i]).toBeCloseTo(b.features[i], 5);
    for (let i = 0; i < a.logits.length; i++) expect(a.logits[i]).toBeCloseTo(b.logits[i], 5);
    // the same images as floats in [0, 1], NCHW
    const f = new Float32Array(5 * 3 * 64);
    for (let i = 0; i < 5; i++)
      for (let c = 0; c < 3; c++)
        for (let p = 0; p < 64; p++) f[(i * 3 + c) * 64 + p] = images[(i * 64 + p) * 3 + c] / 255;
    const c = await ort.extract({ kind: "float", data: f, count: 5, height: 8, width: 8 });
    // v/127.5 - 1 vs 2(v/255) - 1: equal up to float32 rounding
    for (let i = 0; i < a.features.length; i++) expect(c.features[i]).toBeCloseTo(a.features[i], 5);
    await expect(
      ort.extract({ ...batch, height: 4, width: 4, count: 1, data: images.subarray(0, 48) }),
    ).rejects.toThrow(/takes 8x8 images/);
    await ort.release();
    await ref.release();
  });

  test("a few AdamW steps on ONNX Runtime lower the cross-entropy of a separable toy set", async () => {
    const B = 6;
    const step = emojiClassifierTrainingStep(TINY, B, { lr: 1e-2, lrInput: true, labelSmoothing: 0.1 });
    let w = emojiClassifierInitialWeights(step.graph, 0);
    const trainable = new Set(step.trainable);
    const session = await node.load({
      graph: step.graph,
      weights: w,
      paramsAsInputs: (n) => trainable.has(n),
    });
    const { images, labels } = toyImages(B);
    const x = new Float32Array(B * 3 * 64);
    for (let i = 0; i < B; i++)
      for (let c = 0; c < 3; c++)
        for (let p = 0; p < 64; p++) x[(i * 3 + c) * 64 + p] = images[(i * 64 + p) * 3 + c] / 127.5 - 1;
    const m = new Map<string, Tensor>();
    const v = new Map<string, Tensor>();
    for (const n of step.trainable) {
      m.set(n, Tensor.zeros("float32", w.get(n)!.shape));
      v.set(n, Tensor.zeros("float32", w.get(n)!.shape));
    }
    const losses: number[] = [];
    for (let s = 1; s <= 20; s++) {
      const feeds: Record<string, Tensor> = {
        x: new Tensor("float32", [B, 3, 8, 8], x),
        y: Tensor.from("int64", [B], labels),
        [STEP_IO.step]: Tensor.from("float32", [], [s]),
        [STEP_IO.lr]: Tensor.from("float32", [], [1e-2]),
      };
      for (const n of step.trainable) {
        feeds[n] = w.get(n)!;
        feeds[STEP_IO.m(n)] = m.get(n)!;
        feeds[STEP_IO.v(n)] = v.get(n)!;
      }
      const out = await session.run(feeds);
      losses.push(Number((out.loss as Tensor).data[0]));
      w = new Map(w);
      for (const n of step.trainable) {
        w.set(n, out[STEP_IO.updated(n)] as Tensor);
        m.set(n, out[STEP_IO.mNext(n)] as Tensor);
        v.set(n, out[STEP_IO.vNext(n)] as Tensor);
      }
    }
    await session.release();
    // uniform logits at the start: cross-entropy ln 3 (label smoothing does not change it there)
    expect(losses[0]).toBeCloseTo(Math.log(3), 0);
    expect(losses[19]).toBeLessThan(0.5 * losses[0]);
  });

  test("the cross-entropy equals a direct computation from the logits (interpreter)", () => {
    const obj = emojiClassifierTrainingStep(TINY, 3, { lr: 0, labelSmoothing: 0.2 });
    const w = emojiClassifierInitialWeights(obj.graph, 3);
    const { images, labels } = toyImages(3);
    const x = Tensor.from(
      "float32",
      [3, 3, 8, 8],
      Array.from({ length: 3 * 192 }, (_, j) => {
        const [i, c, p] = [Math.floor(j / 192), Math.floor(j / 64) % 3, j % 64];
        return images[(i * 64 + p) * 3 + c] / 127.5 - 1;
      }),
    );
    const feeds: Record<string, Tensor> = {
      x,
      y: Tensor.from("int64", [3], labels),
      step: Tensor.from("float32", [], [1]),
    };
    for (const n of obj.trainable) {
      feeds[STEP_IO.m(n)] = Tensor.zeros("float32", w.get(n)!.shape);
      feeds[STEP_IO.v(n)] = Tensor.zeros("float32", w.get(n)!.shape);
    }
    const loss = interpret(obj.graph, feeds, { weights: w }).loss.toFloat64()[0];
    const g = emojiClassifierGraph(TINY, 3, "float");
    const logits = interpret(g, { x }, { weights: w }).logits.toFloat64();
    let want = 0;
    for (let i = 0; i < 3; i++) {
      const row = Array.from(logits.subarray(3 * i, 3 * i + 3));
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, r) => a + Math.exp(r - mx), 0));
      for (let k = 0; k < 3; k++) want -= ((k === labels[i] ? 0.8 : 0) + 0.2 / 3) * (row[k] - lse);
    }
    expect(loss).toBeCloseTo(want / 3, 6);
  });
});

describe("FD-emoji statistics and class agreement", () => {
  test("agreement counts per requested class, optionally through a class -> label map", () => {
    const acc = new AgreementAccumulator(3);
    acc.add([0, 1, 2, 2], [0, 1, 1, 2]);
    expect(acc.result()).toMatchObject({ n: 4, agree: 3, rate: 0.75 });
    expect(acc.result().perClass).toEqual([
      { n: 1, agree: 1 },
      { n: 2, agree: 1 },
      { n: 1, agree: 1 },
    ]);
    // 4 fine classes nested in 2 coarse labels
    const coarse = new AgreementAccumulator(2, [0, 0, 1, 1]);
    coarse.add([1, 3, 2, 0], [0, 1, 0, 0]);
    expect(coarse.result()).toMatchObject({ n: 4, agree: 3 });
    expect(() => coarse.add([0], [2])).toThrow(/not in 0..1/);
    expect(Array.from(argmaxRows(Float32Array.of(0, 2, 1, 5, 4, 3), 3))).toEqual([1, 0]);
  });

  test("a mixture of per-class Gaussians: equal weights give the statistics of a class-balanced set", () => {
    // two classes of 1-D features: {0, 2} and {10, 12, 14}; balanced: mean (1 + 12) / 2
    const a = { dim: 1, mu: Float64Array.of(1), sigma: Float64Array.of(2), n: 2 };
    const b = { dim: 1, mu: Float64Array.of(12), sigma: Float64Array.of(4), n: 3 };
    const m = mixtureStats([a, b]);
    expect(m.mu[0]).toBeCloseTo(6.5, 12);
    // within-class (2 + 4) / 2 plus between-class ((1 - 6.5)^2 + (12 - 6.5)^2) / 2
    expect(m.sigma[0]).toBeCloseTo(3 + 30.25, 12);
    expect(m.n).toBe(5);
    const w = mixtureStats([a, b], [3, 1]);
    expect(w.mu[0]).toBeCloseTo((3 * 1 + 12) / 4, 12);
    expect(() => mixtureStats([a, { ...b, dim: 2 }])).toThrow(/dimensions/);
  });

  test("per-label statistics of a labelled pass", async () => {
    const { images, labels } = toyImages(12);
    const e = new EmojiFeatureExtractor(node, tinyModel(1), { batchSize: 8 });
    const r = await emojiEvaluate(e, uint8Batches(images, 12, 8, 5, labels), { perLabel: true });
    expect(r.perLabel?.map((p) => p?.n)).toEqual([4, 4, 4]);
    const one = await emojiEvaluate(e, uint8Batches(images, 12, 8, 5, labels, [0, 3, 6, 9]), {});
    expect(r.perLabel![0]!.mu).toEqual(one.stats.pool.mu);
    await e.release();
  });

  test("statistics record the classifier's weights; a set is at distance 0 from itself, other weights refuse", async () => {
    const { images, labels } = toyImages(30);
    const e1 = new EmojiFeatureExtractor(node, tinyModel(1), { batchSize: 8 });
    const e2 = new EmojiFeatureExtractor(node, tinyModel(2), { batchSize: 8 });
    const r1 = await emojiEvaluate(e1, uint8Batches(images, 30, 8, 7, labels), { source: "toy" });
    expect(r1.n).toBe(30);
    expect(r1.stats.meta?.convention).toEqual({
      network: "emoji-classifier",
      input: "uint8",
      preprocess: "emoji-classifier",
      weights: "sha1",
    });
    expect(r1.agreement?.n).toBe(30);
    expect(compareStats(r1.stats, r1.stats).fid.value).toBeCloseTo(0, 6);
    // the first 15 images vs all 30: a positive distance
    const half = await emojiEvaluate(e1, uint8Batches(images, 30, 8, 4, labels), { limit: 15 });
    expect(half.n).toBe(15);
    expect(compareStats(half.stats, r1.stats).fid.value).toBeGreaterThan(0);
    const r2 = await emojiEvaluate(e2, uint8Batches(images, 30, 8, 7));
    expect(r2.agreement).toBeUndefined();
    expect(() => compareStats(r1.stats, r2.stats)).toThrow(/different networks/);
    // a stats file round trip keeps the convention; reading it for other weights fails
    const file = join(dir, "toy-stats.npz");
    await writeStatsFile(file, r1.stats);
    const back = await readEmojiStats(file, tinyModel(1));
    expect(compareStats(back, r1.stats).fid.value).toBeCloseTo(0, 9);
    await expect(readEmojiStats(file, tinyModel(2))).rejects.toThrow(/other classifier weights/);
    const viaInput = await emojiStatsForInput(file, { extractor: e1 });
    expect(viaInput.kind).toBe("stats");
    await e1.release();
    await e2.release();
  });
});

describe("files", () => {
  test("a classifier file: config and classes from the metadata, identity = sha256 of the file", async () => {
    const model = tinyModel(4);
    const path = join(dir, "classifier.safetensors");
    await writeFileStreaming(
      path,
      safetensorsChunks(model.weights, {
        metadata: {
          "flowturbo.config": JSON.stringify({ kind: "emoji-classifier", config: TINY }),
          classes: JSON.stringify(["x", "y", "z"]),
        },
      }),
    );
    const back = await loadEmojiClassifier(path);
    expect(back.config).toEqual(TINY);
    expect(back.classNames).toEqual(["x", "y", "z"]);
    expect(back.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect([...back.weights.keys()].sort()).toEqual([...model.weights.keys()].sort());
    const sit = join(dir, "sit.safetensors");
    await writeFileStreaming(
      sit,
      safetensorsChunks(model.weights, {
        metadata: { "flowturbo.config": JSON.stringify({ kind: "sit", config: {} }) },
      }),
    );
    await expect(loadEmojiClassifier(sit)).rejects.toThrow(/not an emoji-classifier/);
  });

  test("labels from sample file names; a folder with an unlabelled file has no labels", async () => {
    expect(labelFromFileName("/x/000012_7.png")).toBe(7);
    expect(labelFromFileName("000012.png")).toBeUndefined();
    const img = (name: string) => ({ data: new Uint8Array(8 * 8 * 3), height: 8, width: 8, name });
    const labelled = [];
    for await (const b of labelledFolderBatches([img("0_2.png"), img("1_0.png"), img("2_1.png")], 2))
      labelled.push(b.labels);
    expect(labelled).toEqual([[2, 0], [1]]);
    const mixed = [];
    for await (const b of labelledFolderBatches([img("0_2.png"), img("1.png"), img("2_1.png")], 2))
      mixed.push(b.labels);
    expect(mixed).toEqual([undefined, undefined]);
  });
});
