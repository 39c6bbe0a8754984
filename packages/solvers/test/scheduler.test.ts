import { describe, expect, it } from "vitest";
import {
  EVALS_PER_STEP,
  type FixedStepMethod,
  FlowMatchScheduler,
  fromTorchdiffeqMethod,
  NonFiniteError,
  shiftedGrid,
  solveFixedStep,
  TORCHDIFFEQ_METHODS,
  uniformGrid,
} from "../src/index";

const methods = Object.keys(EVALS_PER_STEP) as FixedStepMethod[];

// A nonlinear, time-dependent field on float32 states (rounding makes bit equality meaningful).
const model = (x: Float32Array, t: number) =>
  Float32Array.from(x, (v, i) => Math.sin(3 * v + t) - 0.7 * v + 0.01 * (i % 5));
const noise = () => Float32Array.from({ length: 64 }, (_, i) => Math.cos(1.3 * i) * 1.7);
const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

/** diffusers-style loop: the pipeline owns the model call. */
function runLoop(scheduler: FlowMatchScheduler<Float32Array>, x0: Float32Array) {
  let x = x0;
  const states: Float32Array[] = [];
  for (const t of scheduler.timesteps) {
    const out = scheduler.step(model(x, t), t, x);
    x = out.prevSample;
    states.push(x);
  }
  return { x, states };
}

describe("FlowMatchScheduler (setTimesteps / step)", () => {
  const grid = [0, 0.05, 0.2, 0.31, 0.5, 0.74, 0.9, 1];

  for (const method of methods) {
    it(`${method}: a loop over its timesteps gives the functional solver's states bit for bit`, async () => {
      const functional = await solveFixedStep(model, noise(), { method, grid, trajectory: true });
      const scheduler = new FlowMatchScheduler({ method });
      scheduler.setTimesteps({ grid });
      expect(scheduler.order).toBe(EVALS_PER_STEP[method]);
      expect(scheduler.timesteps).toHaveLength(EVALS_PER_STEP[method] * (grid.length - 1));
      const { x, states } = runLoop(scheduler, noise());
      expect(bits(x)).toEqual(bits(functional.x));
      // The state after every step's last evaluation is the trajectory's next state.
      const ends = states.filter((_, i) => (i + 1) % scheduler.order === 0);
      expect(ends.map(bits)).toEqual(functional.trajectory!.slice(1).map(bits));
      expect(scheduler.nfe).toBe(functional.nfe.base);
      expect(scheduler.stepIndex).toBe(grid.length - 1);
      expect(scheduler.done).toBe(true);
    });
  }

  it("lists every evaluation: Euler one per step, Heun each step's start and end (as diffusers' Heun)", () => {
    const euler = new FlowMatchScheduler();
    euler.setTimesteps(4);
    expect(euler.grid).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(euler.timesteps).toEqual([0, 0.25, 0.5, 0.75]);
    expect(euler.sigmas).toEqual([1, 0.75, 0.5, 0.25]);
    const heun = new FlowMatchScheduler({ method: "heun" });
    heun.setTimesteps(2);
    expect(heun.timesteps).toEqual([0, 0.5, 0.5, 1]);
  });

  it("takes diffusers sigma schedules and timestep shift", () => {
    const a = new FlowMatchScheduler();
    a.setTimesteps({ sigmas: [1, 0.6, 0.25, 0] });
    expect(a.grid).toEqual([0, 1 - 0.6, 0.75, 1]);
    const b = new FlowMatchScheduler();
    b.setTimesteps(8, { shift: 3 });
    expect(b.grid).toEqual(shiftedGrid(uniformGrid(8), 3));
  });

  it("reset starts the same schedule over, with the same result", () => {
    const s = new FlowMatchScheduler({ method: "rk4" });
    s.setTimesteps(5);
    const first = runLoop(s, noise()).x;
    s.reset();
    expect(s.nfe).toBe(0);
    expect(bits(runLoop(s, noise()).x)).toEqual(bits(first));
  });

  it("rejects out-of-order timesteps, stepping before setTimesteps and after the end", () => {
    const s = new FlowMatchScheduler({ method: "heun" });
    const x = noise();
    expect(() => s.step(x, 0, x)).toThrow(/setTimesteps/);
    s.setTimesteps(2);
    expect(() => s.step(x, 0.5, x)).toThrow(/t=0, got t=0.5/);
    runLoop(s, x);
    expect(() => s.step(x, 1, x)).toThrow(/every timestep/);
    expect(() => new FlowMatchScheduler({ method: "dopri5" as FixedStepMethod })).toThrow(/unknown method/);
  });

  it("checks model outputs for non-finite values unless checkFinite is false", () => {
    const bad = new Float32Array(64).fill(Number.NaN);
    const s = new FlowMatchScheduler();
    s.setTimesteps(2);
    expect(() => s.step(bad, 0, noise())).toThrow(NonFiniteError);
    const lax = new FlowMatchScheduler({ checkFinite: false });
    lax.setTimesteps(2);
    expect(Number.isNaN(lax.step(bad, 0, noise()).prevSample[0])).toBe(true);
  });
});

describe("torchdiffeq method names", () => {
  it("map to this package's methods; torchdiffeq's rk4 is the 3/8 rule", () => {
    expect(fromTorchdiffeqMethod("rk4")).toBe("rk4_38");
    expect(fromTorchdiffeqMethod("heun2")).toBe("heun");
    expect(fromTorchdiffeqMethod("midpoint")).toBe("midpoint");
    expect(fromTorchdiffeqMethod("euler")).toBe("euler");
    expect(fromTorchdiffeqMethod("dopri5")).toBe("dopri5");
    expect(Object.keys(TORCHDIFFEQ_METHODS).sort()).toEqual(["dopri5", "euler", "heun2", "midpoint", "rk4"]);
    expect(() => fromTorchdiffeqMethod("bosh3")).toThrow(/not offered; supported: euler/);
    expect(() => fromTorchdiffeqMethod("toString")).toThrow(/not offered/);
  });

  it("the mapped rk4 takes torchdiffeq's 3/8-rule stages (t0, t0+h/3, t0+2h/3, t1)", async () => {
    const ts: number[] = [];
    await solveFixedStep(
      (x: Float64Array, t: number) => {
        ts.push(t);
        return x;
      },
      new Float64Array(1),
      { method: fromTorchdiffeqMethod("rk4") as FixedStepMethod, grid: [0, 0.3] },
    );
    expect(ts).toEqual([0, 0.1, 0.2, 0.3].map((t) => expect.closeTo(t, 15)));
  });
});
