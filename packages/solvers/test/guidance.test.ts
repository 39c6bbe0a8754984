import { describe, expect, it } from "vitest";
import {
  classifierFreeGuidance,
  doubleBatch,
  firstHalf,
  float32Ops,
  guidedRefiner,
  guidedVelocity,
  resolveChannels,
  solveFixedStep,
} from "../src/index";

// Layout [2B, C, 1, 1] with B = 1, C = 4: element index = half*4 + channel.
const shape = [2, 4, 1, 1];
const ctx = { step: 0 };

/** A "model" whose conditional half returns 10 + channel and unconditional half 20 + channel, plus x. */
function mockModel(seen: Float32Array[]) {
  return (x: Float32Array) => {
    seen.push(x);
    return Float32Array.from(x, (v, i) => v + (i < 4 ? 10 : 20) + (i % 4));
  };
}

describe("classifier-free guidance on a doubled batch", () => {
  it("duplicates the first half and guides channels 0..2 only (SiT's rule)", async () => {
    const seen: Float32Array[] = [];
    const f = guidedVelocity(mockModel(seen), { scale: 4, shape, channels: "sit" });
    const x = Float32Array.of(1, 2, 3, 4, 100, 200, 300, 400);
    const v = await f(x, 0.5, ctx);
    expect(Array.from(seen[0])).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    // Channel c: cond = x_c + 10 + c, uncond = x_c + 20 + c, guided = uncond + 4*(cond - uncond) = cond - 30.
    // Channel 3 keeps its own value in each half: cond 4+10+3 = 17, uncond 4+20+3 = 27.
    expect(Array.from(v)).toEqual([1 + 10 - 30, 2 + 11 - 30, 3 + 12 - 30, 17, -19, -17, -15, 27]);
  });

  it("'all' guides every channel; a list guides just those", async () => {
    const x = Float32Array.of(0, 0, 0, 0, 9, 9, 9, 9);
    const all = await guidedVelocity(mockModel([]), { scale: 2, shape, channels: "all" })(x, 0, ctx);
    // cond = 10 + c, uncond = 20 + c: guided = 20 + c + 2*(-10) = c.
    expect(Array.from(all)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const some = await guidedVelocity(mockModel([]), { scale: 2, shape, channels: [1] })(x, 0, ctx);
    expect(Array.from(some)).toEqual([10, 1, 12, 13, 20, 1, 22, 23]);
  });

  it("outside the guidance interval uses the conditional output for the guided channels", async () => {
    const f = guidedVelocity(mockModel([]), { scale: 4, shape, channels: "sit", interval: [0.2, 0.6] });
    const x = new Float32Array(8);
    expect(Array.from(await f(x, 0.9, ctx))).toEqual([10, 11, 12, 13, 10, 11, 12, 23]);
    expect(Array.from(await f(x, 0.6, ctx))).toEqual([-20, -19, -18, 13, -20, -19, -18, 23]);
    expect(Array.from(await f(x, 0.1, ctx))).toEqual([10, 11, 12, 13, 10, 11, 12, 23]);
  });

  it("the refiner gets the duplicated x but each half's own v, and its delta v is guided", async () => {
    let seenX: Float32Array | undefined;
    let seenV: Float32Array | undefined;
    const g = guidedRefiner(
      (x: Float32Array, _t: number, v: Float32Array) => {
        seenX = x;
        seenV = v;
        return Float32Array.from(v, (vi, i) => vi + (i < 4 ? 1 : 0));
      },
      { scale: 3, shape, channels: "sit" },
    );
    const v = Float32Array.of(1, 1, 1, 1, 5, 5, 5, 5);
    const dv = await g(Float32Array.of(1, 2, 3, 4, 0, 0, 0, 0), 0.3, v, ctx);
    expect(Array.from(seenX ?? [])).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(seenV).toBe(v);
    // cond = 2, uncond = 5 on channels 0..2: 5 + 3*(2 - 5) = -4; channel 3 keeps 2 and 5.
    expect(Array.from(dv)).toEqual([-4, -4, -4, 2, -4, -4, -4, 5]);
  });

  it("works on larger layouts: [2B, C, H, W] with B = 2", async () => {
    const big = [4, 4, 2, 3];
    const n = 4 * 4 * 2 * 3;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const model = (xd: Float32Array) => Float32Array.from(xd, (v, i) => v * (i < n / 2 ? 2 : 1));
    const v = await guidedVelocity(model, { scale: 1.5, shape: big, channels: "sit" })(x, 0, ctx);
    for (let b = 0; b < 2; b++) {
      for (let c = 0; c < 4; c++) {
        for (let s = 0; s < 6; s++) {
          const i = (b * 4 + c) * 6 + s;
          const j = i + n / 2;
          const cond = 2 * x[i];
          const uncond = x[i];
          const expected =
            c < 3 ? [uncond + 1.5 * (cond - uncond), uncond + 1.5 * (cond - uncond)] : [cond, uncond];
          expect(v[i]).toBeCloseTo(expected[0], 5);
          expect(v[j]).toBeCloseTo(expected[1], 5);
        }
      }
    }
  });

  it("plugs into any solver through options.guidance", async () => {
    const model = (x: Float32Array) => Float32Array.from(x, (_, i) => (i < 4 ? 1 : 0));
    const z = Float32Array.of(0, 0, 0, 0);
    const r = await solveFixedStep(model, doubleBatch(z), {
      method: "euler",
      steps: 4,
      guidance: { scale: 2, shape, channels: "sit" },
    });
    // Guided channels: 0 + 2*(1 - 0) = 2 per unit time; channel 3: 1 (cond) and 0 (uncond).
    expect(Array.from(r.x)).toEqual([2, 2, 2, 1, 2, 2, 2, 0]);
    expect(Array.from(firstHalf(r.x))).toEqual([2, 2, 2, 1]);
  });

  it("validates the layout and the channel selection", async () => {
    expect(() => resolveChannels("sit", 2)).toThrow(/3 channels/);
    expect(() => resolveChannels([4], 4)).toThrow(/out of range/);
    expect(resolveChannels("all", 3)).toEqual([0, 1, 2]);
    expect(() => float32Ops.duplicateFirstHalf(new Float32Array(6), [3, 2])).toThrow(/even/);
    expect(() => float32Ops.guide(new Float32Array(8), 2, [0], [2, 2, 3])).toThrow(/elements/);
    const f = guidedVelocity(mockModel([]), { scale: 2, shape: [2, 4], channels: "sit" });
    await expect(f(new Float32Array(6), 0, ctx)).rejects.toThrow(/elements/);
  });
});

describe("classifierFreeGuidance: guidance as a velocity-field wrapper on the undoubled state", () => {
  // B = 2 samples, C = 4 channels, 3x2 pixels. A "model" on a doubled batch whose rows know their
  // label: conditional rows (label 1) and unconditional rows (label 0) answer differently.
  const single = [2, 4, 3, 2];
  const n = 2 * 4 * 3 * 2;
  const field = (x: Float32Array, t: number, labels: readonly number[]) => {
    const per = x.length / labels.length;
    return Float32Array.from(x, (v, i) => Math.sin(2 * v + t) + (labels[Math.floor(i / per)] ? 0.4 : -0.3));
  };
  const z = Float32Array.from({ length: n }, (_, i) => Math.cos(0.9 * i));

  it("with a batched model and 'sit' channels, equals the first half of SiT's doubled-batch solve bit for bit", async () => {
    const doubledModel = (x: Float32Array, t: number) => field(x, t, [1, 1, 0, 0]); // cat[labels, null]
    const doubled = await solveFixedStep(doubledModel, doubleBatch(z), {
      method: "heun",
      steps: 6,
      guidance: { scale: 2.5, shape: [4, 4, 3, 2], channels: "sit" },
    });
    const v = classifierFreeGuidance(doubledModel, { scale: 2.5, shape: single, channels: "sit" });
    const wrapped = await solveFixedStep(v, z, { method: "heun", steps: 6 });
    expect(wrapped.x.length).toBe(n);
    expect(Array.from(wrapped.x)).toEqual(Array.from(firstHalf(doubled.x)));
    expect(wrapped.nfe).toEqual(doubled.nfe); // one batched call per evaluation
  });

  it("unconditional-first batches (diffusers' order) give the same velocity as conditional-first", async () => {
    const seen: number[] = [];
    const uncondFirst = (x: Float32Array, t: number) => {
      seen.push(x.length);
      return field(x, t, [0, 0, 1, 1]); // cat[null, labels]
    };
    const condFirst = (x: Float32Array, t: number) => field(x, t, [1, 1, 0, 0]);
    const opts = { scale: 3, shape: single, channels: "all" } as const;
    const a = await classifierFreeGuidance(uncondFirst, { ...opts, order: "unconditional-first" })(
      z,
      0.3,
      ctx,
    );
    const b = await classifierFreeGuidance(condFirst, opts)(z, 0.3, ctx);
    expect(seen).toEqual([2 * n]);
    expect(Array.from(a)).toEqual(Array.from(b));
    // The wrong order is not silently equal: it guides away from the condition.
    const wrong = await classifierFreeGuidance(uncondFirst, opts)(z, 0.3, ctx);
    expect(Array.from(wrong)).not.toEqual(Array.from(b));
  });

  it("takes separate conditional and unconditional fields: u + s*(c - u), c off the guided channels", async () => {
    const conditional = (x: Float32Array) => x.map(() => 1);
    const unconditional = (x: Float32Array) => x.map(() => -1);
    const all = await classifierFreeGuidance(
      { conditional, unconditional },
      { scale: 2, shape: single, channels: "all" },
    )(z, 0, ctx);
    expect(new Set(all)).toEqual(new Set([3])); // -1 + 2*(1 - -1)
    const some = await classifierFreeGuidance(
      { conditional, unconditional },
      { scale: 2, shape: single, channels: [1], interval: [0, 0.5] },
    )(z, 0.2, ctx);
    const per = 3 * 2;
    expect(Array.from(some)).toEqual(Array.from(some, (_, i) => (Math.floor(i / per) % 4 === 1 ? 3 : 1)));
    const outside = await classifierFreeGuidance(
      { conditional, unconditional },
      { scale: 2, shape: single, channels: [1], interval: [0, 0.5] },
    )(z, 0.7, ctx);
    expect(new Set(outside)).toEqual(new Set([1]));
  });

  it("requires channels, a known order and a matching layout", async () => {
    const model = (x: Float32Array) => x;
    // @ts-expect-error: channels is required
    expect(() => classifierFreeGuidance(model, { scale: 2, shape: single })).toThrow(/channels are required/);
    expect(() =>
      // @ts-expect-error: not an order
      classifierFreeGuidance(model, { scale: 2, shape: single, channels: "all", order: "uncond-first" }),
    ).toThrow(/order/);
    const f = classifierFreeGuidance(model, { scale: 2, shape: [2, 4, 2, 2], channels: "all" });
    await expect(f(z, 0, ctx)).rejects.toThrow(/elements/);
  });
});
