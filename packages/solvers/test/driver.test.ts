import { describe, expect, it } from "vitest";
import {
  EVALS_PER_STEP,
  type FixedStepMethod,
  float32Ops,
  float64Ops,
  type StepInfo,
  sampleFlowTurbo,
  solveDopri5,
  solveFixedStep,
  solveSde,
} from "../src/index";
import { fieldOf, MIXTURE, startPoints } from "./fields";

const methods = Object.keys(EVALS_PER_STEP) as FixedStepMethod[];

describe("shared driver: callbacks, NFE, trajectories", () => {
  for (const method of methods) {
    it(`${method}: onStep after every step with t, x and NFE so far`, async () => {
      const infos: StepInfo<Float64Array>[] = [];
      const grid = [0, 0.1, 0.35, 0.7, 1];
      const r = await solveFixedStep(fieldOf(MIXTURE), startPoints(3), {
        method,
        grid,
        trajectory: true,
        onStep: (s) => void infos.push(s),
      });
      const per = EVALS_PER_STEP[method];
      expect(infos.map((s) => s.step)).toEqual([1, 2, 3, 4]);
      expect(infos.map((s) => s.t)).toEqual(grid.slice(1));
      expect(infos.map((s) => s.nfe.base)).toEqual([per, 2 * per, 3 * per, 4 * per]);
      expect(r.nfe).toEqual({ base: 4 * per, refiner: 0 });
      expect(r.trajectory).toHaveLength(5);
      expect(r.trajectory?.[4]).toBe(r.x);
      expect(infos[3].x).toBe(r.x);
    });
  }

  it("passes the step index and the signal to the model", async () => {
    const seen: number[] = [];
    const controller = new AbortController();
    await solveFixedStep(
      (x, _t, ctx) => {
        seen.push(ctx.step);
        expect(ctx.signal).toBe(controller.signal);
        return x;
      },
      new Float32Array(2),
      { method: "heun", steps: 3, signal: controller.signal },
    );
    expect(seen).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("awaits async velocity fields and async callbacks; results equal the sync ones", async () => {
    const f = fieldOf(MIXTURE);
    const asyncF = async (x: Float64Array, t: number) => {
      await new Promise((r) => setTimeout(r, 0));
      return f(x, t);
    };
    const order: string[] = [];
    const sync = await solveFixedStep(f, startPoints(5), { method: "rk4", steps: 5 });
    const asyn = await solveFixedStep(asyncF, startPoints(5), {
      method: "rk4",
      steps: 5,
      onStep: async (s) => {
        await new Promise((r) => setTimeout(r, 0));
        order.push(`step${s.step}`);
      },
    });
    expect(Array.from(asyn.x)).toEqual(Array.from(sync.x));
    expect(order).toEqual(["step1", "step2", "step3", "step4", "step5"]);
  });
});

describe("abort", () => {
  it("stops a fixed-step solve between steps with the signal's reason", async () => {
    const controller = new AbortController();
    let calls = 0;
    const run = solveFixedStep(
      (x) => {
        calls++;
        return x;
      },
      new Float32Array(4),
      {
        method: "euler",
        steps: 10,
        signal: controller.signal,
        onStep: (s) => {
          if (s.step === 3) controller.abort();
        },
      },
    );
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(calls).toBe(3);
  });

  it("stops inside a step before the next network call (FlowTurbo, dopri5, SDE)", async () => {
    const reason = new Error("user cancelled");
    const make = () => {
      const controller = new AbortController();
      let calls = 0;
      const f = (x: Float64Array, t: number) => {
        if (++calls === 3) controller.abort(reason);
        return fieldOf(MIXTURE)(x, t);
      };
      return { signal: controller.signal, f, count: () => calls };
    };
    const a = make();
    await expect(sampleFlowTurbo(a.f, startPoints(2), { plan: "H4", signal: a.signal })).rejects.toBe(reason);
    expect(a.count()).toBe(3);
    const b = make();
    await expect(solveDopri5(b.f, startPoints(2), { signal: b.signal })).rejects.toBe(reason);
    expect(b.count()).toBe(3);
    const c = make();
    const noise = (_: number, like: Float64Array) => new Float64Array(like.length);
    await expect(solveSde(c.f, startPoints(2), { noise, signal: c.signal })).rejects.toBe(reason);
    expect(c.count()).toBe(3);
  });

  it("does not start when already aborted", async () => {
    let calls = 0;
    const run = solveFixedStep(
      (x) => {
        calls++;
        return x;
      },
      new Float32Array(1),
      { method: "euler", steps: 2, signal: AbortSignal.abort() },
    );
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(calls).toBe(0);
  });
});

describe("inputs", () => {
  it("asks for ops when the state is not a Float32Array/Float64Array", async () => {
    const f = (x: number[]) => x;
    // @ts-expect-error: the types require `ops` for a number[] state (and the run-time check too)
    await expect(solveFixedStep(f, [1, 2], { method: "euler", steps: 1 })).rejects.toThrow(/pass `ops`/);
    const ops = {
      lincomb: (c: readonly number[], xs: readonly number[][]) =>
        xs[0].map((_, i) => xs.reduce((s, x, j) => s + c[j] * x[i], 0)),
      scaledRms: () => 0,
    };
    const r = await solveFixedStep((x: number[]) => x.map(() => 1), [1, 2], {
      method: "euler",
      steps: 4,
      ops,
    });
    expect(r.x).toEqual([2, 3]);
  });

  it("rejects unknown methods, bad grids, and both/neither of grid and steps", async () => {
    const f = fieldOf(MIXTURE);
    const x = startPoints(2);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    await expect(solveFixedStep(f, x, { method: "rk5" as any, steps: 2 })).rejects.toThrow(
      /unknown method "rk5"/,
    );
    await expect(solveFixedStep(f, x, { method: "euler", grid: [0, 0.5, 0.5, 1] })).rejects.toThrow(
      /monotone/,
    );
    await expect(solveFixedStep(f, x, { method: "euler", grid: [0] })).rejects.toThrow(/at least 2/);
    await expect(solveFixedStep(f, x, { method: "euler" })).rejects.toThrow(/grid/);
    await expect(solveFixedStep(f, x, { method: "euler", steps: 2, grid: [0, 1] })).rejects.toThrow(
      /not both/,
    );
  });

  it("integrates backwards on a decreasing grid", async () => {
    const f = fieldOf(MIXTURE);
    const x0 = startPoints(5);
    const fwd = await solveFixedStep(f, x0, { method: "rk4", steps: 64 });
    const back = await solveFixedStep(f, fwd.x, {
      method: "rk4",
      grid: Array.from({ length: 65 }, (_, k) => 1 - k / 64),
    });
    for (let i = 0; i < x0.length; i++) expect(back.x[i]).toBeCloseTo(x0[i], 7);
  });
});

describe("typed-array ops", () => {
  it("lincomb for 1..6 terms and length checks", () => {
    const xs = [1, 2, 3, 4, 5, 6].map((k) => Float64Array.of(k, -k, 0.5 * k));
    for (let m = 1; m <= 6; m++) {
      const coeffs = Array.from({ length: m }, (_, j) => j + 0.5);
      const out = float64Ops.lincomb(coeffs, xs.slice(0, m));
      for (let i = 0; i < 3; i++) {
        const expected = xs.slice(0, m).reduce((s, x, j) => s + coeffs[j] * x[i], 0);
        expect(out[i]).toBeCloseTo(expected, 12);
      }
      expect(out).not.toBe(xs[0]);
    }
    expect(() => float32Ops.lincomb([1, 1], [new Float32Array(2), new Float32Array(3)])).toThrow(/mismatch/);
    expect(() => float32Ops.lincomb([], [])).toThrow(/at least one/);
    expect(float32Ops.lincomb([2], [Float32Array.of(1.5)])).toBeInstanceOf(Float32Array);
  });

  it("scaledRms is torchdiffeq's RMS of x / (atol + rtol * max(|a|, |b|))", () => {
    const x = Float64Array.of(1, 2);
    const a = Float64Array.of(10, -30);
    const b = Float64Array.of(-20, 5);
    // scales: 1 + 0.1*20 = 3 and 1 + 0.1*30 = 4 -> sqrt(((1/3)^2 + (2/4)^2)/2)
    expect(float64Ops.scaledRms(x, a, b, 1, 0.1)).toBeCloseTo(Math.sqrt((1 / 9 + 1 / 4) / 2), 14);
    expect(float64Ops.scaledRms(x, a, undefined, 1, 0.1)).toBeCloseTo(Math.sqrt((1 / 4 + 4 / 16) / 2), 14);
  });
});
