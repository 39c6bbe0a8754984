// The defaults that trapped users outside SiT (issue 20, item 5), each pinned: guidance channels
// have no default, dopri5 stops at t1, a state without built-in ops needs `ops` (types and run
// time), and non-finite model outputs are errors unless turned off.
import { describe, expect, it } from "vitest";
import {
  doubleBatch,
  FlowMatchScheduler,
  guidedVelocity,
  NonFiniteError,
  sampleFlowTurbo,
  solveDopri5,
  solveFixedStep,
  solveSde,
  type VectorOps,
} from "../src/index";
import { fieldOf, GAUSSIAN, startPoints } from "./fields";

const ctx = { step: 0 };
const arrayOps: VectorOps<number[]> = {
  lincomb: (c, xs) => xs[0].map((_, i) => xs.reduce((s, x, j) => s + c[j] * x[i], 0)),
  scaledRms: (x, a, b, atol, rtol) =>
    Math.sqrt(
      x.reduce(
        (s, v, i) => s + (v / (atol + rtol * Math.max(Math.abs(a[i]), Math.abs(b?.[i] ?? 0)))) ** 2,
        0,
      ) / x.length,
    ),
};

describe("guidance channels are the caller's choice", () => {
  it("a guided velocity without channels is a type error and a TypeError naming the choices", () => {
    const model = (x: Float32Array) => x;
    // @ts-expect-error: channels is required
    expect(() => guidedVelocity(model, { scale: 2, shape: [2, 4] })).toThrow(TypeError);
    // @ts-expect-error: channels is required
    expect(() => guidedVelocity(model, { scale: 2, shape: [2, 4] })).toThrow(/'all'.*'sit'/s);
  });

  it("a solve with guidance but no channels rejects before calling the model", async () => {
    let calls = 0;
    const model = (x: Float32Array) => {
      calls++;
      return x;
    };
    const x0 = doubleBatch(new Float32Array(16));
    await expect(
      // @ts-expect-error: channels is required
      solveFixedStep(model, x0, { method: "euler", steps: 2, guidance: { scale: 2, shape: [2, 16] } }),
    ).rejects.toThrow(/channels are required/);
    expect(calls).toBe(0);
  });

  it("'all' guides every channel of a 16-channel latent, and a 2-channel one works too", async () => {
    for (const c of [16, 2]) {
      const shape = [2, c, 1, 1];
      // cond half 1, uncond half 0: guided = 0 + 3*(1 - 0) = 3 on every channel of both halves.
      const model = (x: Float32Array) => Float32Array.from(x, (_, i) => (i < c ? 1 : 0));
      const v = await guidedVelocity(model, { scale: 3, shape, channels: "all" })(
        new Float32Array(2 * c),
        0,
        ctx,
      );
      expect(Array.from(v)).toEqual(new Array(2 * c).fill(3));
    }
  });
});

describe("dopri5 stops at t1 by default", () => {
  // SiT's defaults on the Gaussian flow: torchdiffeq's last step overshoots t1.
  const run = async (clipToEnd?: boolean) => {
    let tMax = 0;
    const f = fieldOf(GAUSSIAN);
    const r = await solveDopri5(
      (x: Float64Array, t: number) => {
        tMax = Math.max(tMax, t);
        return f(x, t);
      },
      startPoints(9),
      clipToEnd === undefined ? {} : { clipToEnd },
    );
    return { r, tMax };
  };

  it("never evaluates the velocity past t1 unless clipToEnd: false (torchdiffeq, SiT)", async () => {
    const byDefault = await run();
    expect(byDefault.tMax).toBe(1);
    expect(await run(true)).toEqual(byDefault);
    const torchdiffeq = await run(false);
    expect(torchdiffeq.tMax).toBeGreaterThan(1);
  });
});

describe("states without built-in ops need ops", () => {
  const f = (x: number[]) => x.map((v) => 1 - v);

  it("is a type error for every solver and the scheduler, and a run-time TypeError", async () => {
    // @ts-expect-error: ops is required for number[] states
    await expect(solveFixedStep(f, [0, 1], { method: "heun", steps: 2 })).rejects.toThrow(/pass `ops`/);
    // @ts-expect-error: ops is required for number[] states
    await expect(solveDopri5(f, [0, 1])).rejects.toThrow(/pass `ops`/);
    // @ts-expect-error: ops is required for number[] states
    await expect(sampleFlowTurbo(f, [0, 1], { plan: "H2" })).rejects.toThrow(/pass `ops`/);
    // @ts-expect-error: ops is required for number[] states
    await expect(solveSde(f, [0, 1], { noise: (_k, x) => x.map(() => 0) })).rejects.toThrow(/pass `ops`/);
    // @ts-expect-error: ops is required for number[] states
    const scheduler = new FlowMatchScheduler<number[]>();
    scheduler.setTimesteps(2);
    expect(() => scheduler.step([1, 1], 0, [0, 1])).toThrow(/pass `ops`/);
  });

  it("runs with ops (and infers the state type from them)", async () => {
    const r = await solveDopri5(f, [0, 2], { ops: arrayOps, atol: 1e-10, rtol: 1e-10 });
    expect(r.x[0]).toBeCloseTo(1 - Math.exp(-1), 8);
    const scheduler = new FlowMatchScheduler({ method: "euler", ops: arrayOps });
    scheduler.setTimesteps(4);
    let x = [0, 2];
    for (const t of scheduler.timesteps) x = scheduler.step(f(x), t, x).prevSample;
    expect(x[0]).toBeCloseTo(1 - 0.75 ** 4, 12);
  });
});

describe("non-finite model outputs", () => {
  const nanAt = (tBad: number) => (x: Float32Array, t: number) =>
    Float32Array.from(x, (v, i) => (t >= tBad && i === 2 ? Number.NaN : -v));

  it("reject with a NonFiniteError naming the call, its time, step and element", async () => {
    const err = await solveFixedStep(nanAt(0.5), new Float32Array(4).fill(1), {
      method: "euler",
      steps: 4,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err).toMatchObject({ name: "NonFiniteError", source: "velocity", t: 0.5, step: 2, index: 2 });
    const inf = (x: Float32Array) => x.map(() => Number.POSITIVE_INFINITY);
    await expect(solveDopri5(inf, new Float32Array(3))).rejects.toBeInstanceOf(NonFiniteError);
  });

  it("covers the refiner and the SDE noise", async () => {
    const base = (x: Float32Array) => x.map(() => 1);
    const badRefiner = (x: Float32Array) => x.map(() => Number.NaN);
    await expect(
      sampleFlowTurbo(base, new Float32Array(2), { plan: "H1R1", refiner: badRefiner }),
    ).rejects.toMatchObject({ source: "refiner", step: 1 });
    const noise = (k: number, x: Float32Array) => x.map(() => (k === 3 ? Number.NaN : 0));
    await expect(solveSde(base, new Float32Array(2), { noise, numSteps: 10 })).rejects.toMatchObject({
      source: "noise",
      step: 3,
    });
  });

  it("pass through with checkFinite: false", async () => {
    const r = await solveFixedStep(nanAt(0.5), new Float32Array(4).fill(1), {
      method: "euler",
      steps: 4,
      checkFinite: false,
    });
    expect(Number.isNaN(r.x[2])).toBe(true);
    expect(r.x[0]).toBeCloseTo(0.75 ** 4, 6);
  });

  it("are not checked with ops that cannot check, unless checkFinite: true asks (then a TypeError)", async () => {
    const nan = (x: number[]) => x.map(() => Number.NaN);
    const r = await solveFixedStep(nan, [0], { method: "euler", steps: 1, ops: arrayOps });
    expect(Number.isNaN(r.x[0])).toBe(true);
    await expect(
      solveFixedStep(nan, [0], { method: "euler", steps: 1, ops: arrayOps, checkFinite: true }),
    ).rejects.toThrow(/firstNonFinite/);
    const checking = {
      ...arrayOps,
      firstNonFinite: (x: number[]) => x.findIndex((v) => !Number.isFinite(v)),
    };
    await expect(
      solveFixedStep(nan, [0], { method: "euler", steps: 1, ops: checking }),
    ).rejects.toBeInstanceOf(NonFiniteError);
  });
});
