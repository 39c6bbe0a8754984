// Learning-rate schedules (a pure function of the step, fed as the step graph's `lr` input) and the
// emoji training data helpers (group labels, the held-out split by emoji identity).
import { createNodeBackend } from "@flowturbo/backend-node";
import { EMOJI_GROUP_NAMES } from "@flowturbo/data";
import { Tensor } from "@flowturbo/tensor";
import { afterAll, describe, expect, test } from "vitest";
import {
  baseFeeds,
  baseTrainingStep,
  lrAt,
  parseLrSchedule,
  type SiTConfig,
  sameSchedulePast,
  sitInitialWeights,
  syntheticSet,
  warmStartWeights,
} from "../../src";
import { emojiDataSource, emojiSplit, fnv1a32, loadEmojiTrainingData, train } from "../../src/node";

const tiny: SiTConfig = {
  inputSize: 8,
  patchSize: 4,
  inChannels: 3,
  outChannels: 3,
  keepChannels: 3,
  hiddenSize: 16,
  depth: 1,
  numHeads: 2,
  numClasses: 3,
  mlpRatio: 4,
};
const backend = createNodeBackend({ threads: 1 });
afterAll(() => backend.close());

describe("learning-rate schedules", () => {
  test("warm-up, cosine and linear decay to a floor over a fixed horizon, constant past it", () => {
    const cos = parseLrSchedule("cosine:110@1e-5", 1e-3, 10);
    expect(lrAt(cos, 0)).toBeCloseTo(1e-4, 12);
    expect(lrAt(cos, 9)).toBeCloseTo(1e-3, 12);
    expect(lrAt(cos, 10)).toBeCloseTo(1e-3, 12);
    expect(lrAt(cos, 60)).toBeCloseTo((1e-3 + 1e-5) / 2, 12);
    expect(lrAt(cos, 110)).toBeCloseTo(1e-5, 12);
    expect(lrAt(cos, 500)).toBeCloseTo(1e-5, 12);
    const lin = parseLrSchedule("linear:100", 2e-4);
    expect(lrAt(lin, 50)).toBeCloseTo(1e-4, 12);
    expect(lrAt(parseLrSchedule("constant", 3e-4, 0), 7)).toBe(3e-4);
    expect(() => parseLrSchedule("cosine", 1e-3)).toThrow(/decay must start/);
    expect(() => parseLrSchedule("step:10", 1e-3)).toThrow(/constant, cosine:STEPS, linear:STEPS/);
    expect(() => parseLrSchedule("linear:100@1", 1e-3)).toThrow(/final rate/);
    // warmup-stable-decay: the peak held until step 60, then linear to 0 at 100
    const wsd = parseLrSchedule("linear:60-100", 1e-3, 10);
    expect(lrAt(wsd, 59)).toBe(1e-3);
    expect(lrAt(wsd, 80)).toBeCloseTo(5e-4, 12);
    expect(lrAt(wsd, 100)).toBe(0);
    expect(() => parseLrSchedule("linear:5-100", 1e-3, 10)).toThrow(/decay must start/);
    // a resume may give a constant run its cool-down, not change the steps already taken
    const constant = parseLrSchedule("constant", 1e-3, 10);
    expect(sameSchedulePast(constant, wsd, 60)).toBe(true);
    expect(sameSchedulePast(constant, wsd, 61)).toBe(true); // step 60 is the decay's first, still at the peak
    expect(sameSchedulePast(constant, wsd, 62)).toBe(false);
    expect(sameSchedulePast(constant, parseLrSchedule("constant", 1e-3, 20), 60)).toBe(false);
  });

  test("lr as an input: a constant schedule equals the lr baked into the graph; lr 0 leaves the weights", async () => {
    const set = syntheticSet(8, 3, 8);
    const run = async (lrInput: boolean, lr?: (s: number) => number) => {
      const step = baseTrainingStep(tiny, 4, { lr: 1e-2, lrInput });
      const weights = sitInitialWeights(step.graph, { seed: 1 });
      const r = await train({
        backend,
        step,
        weights,
        data: baseFeeds({ set, batch: 4, seed: 2 }),
        steps: 3,
        lr,
      });
      return { r, weights };
    };
    const baked = await run(false);
    const fed = await run(true, () => 1e-2);
    let d = 0;
    for (const [n, t] of baked.r.state.params) {
      const u = fed.r.state.params.get(n) as Tensor;
      for (let i = 0; i < t.size; i++) d = Math.max(d, Math.abs(Number(t.data[i]) - Number(u.data[i])));
    }
    expect(d).toBeLessThan(1e-6);
    const frozen = await run(true, () => 0);
    for (const [n, t] of frozen.r.state.params) expect(t.data).toEqual(frozen.weights.get(n)!.data);
    await expect(run(true)).rejects.toThrow(/pass `lr`/);
  });
});

describe("emoji training data", () => {
  test("data-source names; group labels; the held-out split keeps fonts and skin tones of an emoji together", async () => {
    expect(emojiDataSource("emoji:groups")).toBe("groups");
    expect(emojiDataSource("emoji32.npz")).toBeUndefined();
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    const d = await loadEmojiTrainingData("groups");
    expect(d.classNames).toEqual(EMOJI_GROUP_NAMES);
    expect(d.set.numClasses).toBe(24);
    const { train: tr, heldOut } = emojiSplit(d.dataset, 0.15);
    expect(tr.length + heldOut.length).toBe(d.dataset.length);
    const side = new Map<string, boolean>();
    const base = (i: number) => d.dataset.names[i].split(":")[0];
    for (const i of heldOut) side.set(base(i), true);
    for (const i of tr) expect(side.get(base(i)), base(i)).toBeUndefined();
    // about 15% of the emoji (not images) are held out
    const emoji = new Set(d.dataset.names.map((n) => n.split(":")[0]));
    expect(side.size / emoji.size).toBeGreaterThan(0.12);
    expect(side.size / emoji.size).toBeLessThan(0.18);
    // deterministic
    expect(Array.from(emojiSplit(d.dataset, 0.15).heldOut)).toEqual(Array.from(heldOut));
  });
});

describe("warm starts", () => {
  test("weights copied by name; the label table mapped from coarser classes; extra blocks stay fresh", () => {
    const small = baseTrainingStep({ ...tiny, numClasses: 2 }, 2, { lr: 1e-3 });
    const source = sitInitialWeights(small.graph, { seed: 5 });
    // give the source's label rows recognisable values: row r = r + 1
    const table = source.get("y_embedder.embedding_table.weight")!;
    const d = table.shape[1];
    source.set(
      "y_embedder.embedding_table.weight",
      new Tensor(
        "float32",
        table.shape,
        Float32Array.from({ length: 3 * d }, (_, i) => Math.floor(i / d) + 1),
      ),
    );
    const deeper = baseTrainingStep({ ...tiny, numClasses: 3, depth: 2 }, 2, { lr: 1e-3 });
    const fresh = sitInitialWeights(deeper.graph, { seed: 6 });
    const { weights, fresh: kept } = warmStartWeights(fresh, source, { classMap: [1, 0, 1] });
    const rows = weights.get("y_embedder.embedding_table.weight")!.toFloat32();
    expect([0, 1, 2, 3].map((r) => rows[r * d])).toEqual([2, 1, 2, 3]); // classes 1, 0, 1, then the null row
    expect(weights.get("blocks.0.attn.qkv.weight")!.data).toEqual(
      source.get("blocks.0.attn.qkv.weight")!.data,
    );
    expect(kept.every((n) => n.startsWith("blocks.1."))).toBe(true);
    expect(kept.length).toBeGreaterThan(0);
    expect(() => warmStartWeights(fresh, source)).toThrow(
      /y_embedder.embedding_table.weight' is \[3,16\] in the source/,
    );
    expect(() => warmStartWeights(fresh, source, { classMap: [0, 2, 1] })).toThrow(/maps to 2, not a class/);
    const wider = sitInitialWeights(baseTrainingStep({ ...tiny, hiddenSize: 32 }, 2, { lr: 1e-3 }).graph, {
      seed: 1,
    });
    expect(() => warmStartWeights(wider, source, { classMap: [0, 1, 1] })).toThrow(/in the source/);
  });
});
