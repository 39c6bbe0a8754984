import { Graph, nn, op, Scope, Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import { createReferenceBackend, type Session } from "@flowturbo/core";
import { sinWeights } from "../../tensor/test/sinWeights";
import { initialNoise, type MethodInput, parseMethod, type SampleProgress, sample } from "../src";

/** A tiny class-conditional velocity model v = tanh(W x + emb(y)) * (1 + t), channels-first [N,4,2,2]. */
async function tinyModel(batch: number): Promise<Session> {
  const g = new Graph("tiny");
  const x = g.input("x", "float32", [batch, 4, 2, 2]);
  const t = g.input("t", "float32", [batch]);
  const y = g.input("y", "int64", [batch]);
  const s = new Scope(g);
  const h = nn.linear(s.child("fc"), op.reshape(x, [0, 16]), 16);
  const e = nn.embedding(s.child("emb"), y, 6, 16);
  const v = op.mul(op.tanh(op.add(h, e)), op.add(op.unsqueeze(t, [1]), 1));
  g.output("v", op.reshape(v, [0, 4, 2, 2]));
  return createReferenceBackend().load({ graph: g, weights: sinWeights(g, { scale: 0.3, freq: 1.7 }) });
}

const shape = [4, 2, 2];
const labels = [0, 3, 1, 2, 5];

/** Five samples through the tiny model (batch 5, no guidance) with the given method and seed. */
async function five(method: MethodInput, seed: number) {
  return sample({ base: await tinyModel(5), shape, labels, nullClass: 5, method: parseMethod(method), seed });
}

describe("sample()", () => {
  test("the same seed gives the same samples whatever the batch size", async () => {
    const run = async (batchSize: number) =>
      (
        await sample({
          base: await tinyModel(2 * batchSize),
          shape,
          labels,
          nullClass: 5,
          method: parseMethod({ plan: "H2P3" }),
          seed: 7,
          cfgScale: 2,
          batchSize,
        })
      ).latents.toFloat64();
    // the reference backend runs static shapes, so compare batch 5 (one call) with batch 1 (five calls)
    const all = await run(5);
    const ones = await run(1);
    expect(ones).toEqual(all);
  });

  test("alignBatches: any slice of a run is the same bits as in the whole run, even with dopri5", async () => {
    const labelOf = (g: number) => (3 * g + 1) % 6;
    const model = await tinyModel(4); // every call has exactly batchSize = 4 samples
    const run = async (firstIndex: number, n: number) => {
      const decoded: number[] = [];
      const r = await sample({
        base: model,
        shape,
        labels: Array.from({ length: n }, (_, i) => labelOf(firstIndex + i)),
        nullClass: 5,
        method: parseMethod({ solver: "dopri5", atol: 1e-6, rtol: 1e-6 }), // step sizes depend on the whole batch
        seed: 11,
        firstIndex,
        batchSize: 4,
        alignBatches: { labelOf },
        decode: async (x) => {
          decoded.push(x.shape[0]);
          return x;
        },
      });
      return { x: r.latents.toFloat64(), decoded };
    };
    const whole = await run(0, 8);
    const per = 16;
    for (const [first, n] of [
      [2, 5],
      [5, 1],
      [4, 4],
    ]) {
      const part = await run(first, n);
      expect(part.x).toEqual(whole.x.slice(first * per, (first + n) * per));
      expect(part.decoded.reduce((a, b) => a + b, 0)).toBe(n); // only this request's samples are decoded
    }
    await expect(
      sample({
        base: model,
        shape,
        labels: [0],
        nullClass: 5,
        method: parseMethod({ plan: "H1" }),
        seed: 0,
        alignBatches: { labelOf },
      }),
    ).rejects.toThrow(/alignBatches needs batchSize/);
  });

  test("noise row i depends only on (seed, first index + i); sharding by firstIndex reproduces the whole", () => {
    const whole = initialNoise(3, 0, 4, shape);
    const tail = initialNoise(3, 2, 2, shape);
    expect(tail).toEqual(whole.slice(2 * 16));
    expect(initialNoise(4, 0, 1, shape)).not.toEqual(whole.slice(0, 16));
  });

  test("FlowTurbo plan NFE, guidance doubling, explicit noise and decode", async () => {
    const noise = initialNoise(11, 0, 5, shape);
    const decoded: number[][] = [];
    const progress: string[] = [];
    const r = await sample({
      base: await tinyModel(10),
      shape,
      labels,
      nullClass: 5,
      method: parseMethod({ plan: "H1P3" }),
      seed: 0, // ignored: noise given
      noise,
      cfgScale: 3,
      decode: async (lat) => {
        decoded.push([...lat.shape]);
        return new Tensor(
          "float32",
          lat.shape,
          (lat.data as Float32Array).map((v) => Math.tanh(v)),
        );
      },
      onProgress: (p) => progress.push(p.stage),
    });
    expect(r.nfe).toEqual({ base: 5, refiner: 0 });
    expect(decoded).toEqual([[5, 4, 2, 2]]);
    expect(r.images!.shape).toEqual([5, 4, 2, 2]);
    expect(progress).toContain("decoding");
    const again = await sample({
      base: await tinyModel(10),
      shape,
      labels,
      nullClass: 5,
      method: parseMethod({ plan: "H1P3" }),
      seed: 99,
      noise,
      cfgScale: 3,
    });
    expect(again.latents.toFloat64()).toEqual(r.latents.toFloat64());
    // without guidance the batch is not doubled
    const plain = await five({ solver: "heun", steps: 3 }, 1);
    expect(plain.nfe.base).toBe(6);
  });

  test("dopri5 and the SDE run through the same pipeline and the SDE is seeded", async () => {
    const d = await five({ solver: "dopri5", rtol: 1e-5, atol: 1e-7 }, 2);
    const h = await five({ solver: "rk4", steps: 20 }, 2);
    const a = d.latents.toFloat64();
    const b = h.latents.toFloat64();
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-4);
    const s1 = await five({ solver: "sde", steps: 20 }, 2);
    const s2 = await five({ solver: "sde", steps: 20 }, 2);
    const s3 = await five({ solver: "sde", steps: 20 }, 3);
    expect(s1.latents.toFloat64()).toEqual(s2.latents.toFloat64());
    expect(s1.latents.toFloat64()).not.toEqual(s3.latents.toFloat64());
    expect(s1.nfe.base).toBe(20);
  });

  test("progress: every step of every batch, named phases, a fraction that strictly increases to 1", async () => {
    const events: SampleProgress[] = [];
    await sample({
      base: await tinyModel(4),
      shape,
      labels,
      nullClass: 5,
      method: parseMethod({ plan: "H2P3" }),
      seed: 1,
      cfgScale: 2,
      batchSize: 2,
      alignBatches: { labelOf: () => 0 }, // static shapes: the last batch is padded to 2
      decode: async (x) => x,
      onProgress: (p) => events.push(p),
    });
    const perBatch = ["sample", "sample", "sample", "sample", "sample", "decode", "done"];
    expect(events.map((e) => e.phase)).toEqual([...perBatch, ...perBatch, ...perBatch]);
    expect(events.map((e) => e.batch)).toEqual([0, 1, 2].flatMap((b) => new Array(7).fill(b)));
    expect(new Set(events.map((e) => `${e.batches} ${e.steps} ${e.total}`))).toEqual(new Set(["3 5 5"]));
    expect(events.filter((e) => e.phase === "sample").map((e) => e.step)).toEqual([
      1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5,
    ]);
    // samples 0-1, 2-3, then 4: done before each batch, after it in "done"
    expect(events.map((e) => `${e.done}+${e.inBatch}`)).toEqual([
      ...new Array(6).fill("0+2"),
      "2+2",
      ...new Array(6).fill("2+2"),
      "4+2",
      ...new Array(6).fill("4+1"),
      "5+1",
    ]);
    const fractions = events.map((e) => e.fraction);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThan(fractions[i - 1]);
    expect(fractions.at(-1)).toBe(1);
    expect(events.filter((e) => e.phase === "decode").every((e) => e.stage === "decoding")).toBe(true);
    expect(events.filter((e) => e.phase === "sample").every((e) => e.x !== undefined)).toBe(true);
    // dopri5 fixes no steps: its fraction follows t
    const adaptive: SampleProgress[] = [];
    await sample({
      base: await tinyModel(5),
      shape,
      labels,
      nullClass: 5,
      method: parseMethod({ solver: "dopri5" }),
      seed: 2,
      onProgress: (p) => adaptive.push(p),
    });
    expect(adaptive[0].steps).toBeUndefined();
    expect(adaptive.length).toBeGreaterThan(3);
    for (let i = 1; i < adaptive.length; i++)
      expect(adaptive[i].fraction).toBeGreaterThan(adaptive[i - 1].fraction);
    expect(adaptive.at(-1)).toMatchObject({ phase: "done", fraction: 1, done: 5 });
  });

  test("bad noise size names what was expected", async () => {
    await expect(
      sample({
        base: await tinyModel(5),
        shape,
        labels,
        nullClass: 5,
        method: parseMethod({ plan: "H2" }),
        seed: 0,
        noise: new Float32Array(3),
      }),
    ).rejects.toThrow(/noise has 3 values, expected 5 x \[4, 2, 2\] = 80/);
  });
});
