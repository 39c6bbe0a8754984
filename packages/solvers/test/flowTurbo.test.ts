import { describe, expect, it } from "vitest";
import {
  type BlockKind,
  doubleBatch,
  float64Ops,
  parsePlan,
  planNfe,
  type RefinerField,
  sampleFlowTurbo,
  solveFixedStep,
  uniformGrid,
} from "../src/index";
import { fieldOf, MIXTURE, maxAbsDiff, startPoints } from "./fields";

const ops = float64Ops;

/** A time-only field a(t) (same value in every element): Heun's error is pure quadrature error. */
const a = (t: number) => Math.cos(3 * t) + t * t;
const timeOnly = (x: Float64Array, t: number) => new Float64Array(x.length).fill(a(t));
/** The exact refiner for a base field F: G(x, t, v) = F(x, t) - v, so G + v = F. */
const exactRefiner =
  (f: (x: Float64Array, t: number) => Float64Array): RefinerField<Float64Array> =>
  (x, t, v) =>
    ops.lincomb([1, -1], [f(x, t), v]);

describe("FlowTurbo sampler: H and P blocks", () => {
  it("H{n} is Heun's method on the same grid, bit for bit", async () => {
    const f = fieldOf(MIXTURE);
    const x0 = startPoints(9);
    const turbo = await sampleFlowTurbo(f, x0, { plan: "H6" });
    const heun = await solveFixedStep(f, x0, { method: "heun", grid: uniformGrid(6) });
    expect(Array.from(turbo.x)).toEqual(Array.from(heun.x));
    expect(turbo.nfe).toEqual({ base: 12, refiner: 0 });
  });

  it("P reuses the previous predictor slope: base calls only at the predictor points", async () => {
    const times: number[] = [];
    const f = (x: Float64Array, t: number) => {
      times.push(t);
      return fieldOf(MIXTURE)(x, t);
    };
    await sampleFlowTurbo(f, startPoints(3), { plan: "H1P2" });
    expect(times).toEqual([0, 1 / 3, 2 / 3, 1]);
    times.length = 0;
    // A leading P has no cache: it computes its first slope fresh, then behaves as P.
    await sampleFlowTurbo(f, startPoints(3), { plan: "P3" });
    expect(times).toEqual([0, 1 / 3, 2 / 3, 1]);
  });

  it("a P step equals a Heun step whose first slope is the cached F(x~, t_k)", async () => {
    const f = fieldOf(MIXTURE);
    const x0 = startPoints(5);
    const h = 0.5;
    const r = await sampleFlowTurbo(f, x0, { plan: "H1P1" });
    const pred0 = ops.lincomb([1, h], [x0, f(x0, 0)]);
    const cache = f(pred0, h);
    const x1 = ops.lincomb([1, h / 2, h / 2], [x0, f(x0, 0), cache]);
    const pred1 = ops.lincomb([1, h], [x1, cache]);
    const x2 = ops.lincomb([1, h / 2, h / 2], [x1, cache, f(pred1, 1)]);
    expect(maxAbsDiff(r.x, x2)).toBeLessThan(1e-15);
  });
});

describe("FlowTurbo sampler: R blocks with an exact refiner", () => {
  it("the first R block after H or P is Heun on the true field (incoming v = F(x_k, t_k) here)", async () => {
    // On a time-only field the cached slope F(x~, t_k) equals F(x_k, t_k), so with G + v = F the
    // refiner block's d and d' are F(x_k, t_k) and F(x~, t_{k+1}) exactly.
    const x0 = startPoints(4);
    const heun = await solveFixedStep(timeOnly, x0, { method: "heun", steps: 3 });
    for (const plan of ["H2R1", "H1P1R1"]) {
      const r = await sampleFlowTurbo(timeOnly, x0, { plan, refiner: exactRefiner(timeOnly) });
      expect(maxAbsDiff(r.x, heun.x)).toBeLessThan(1e-15);
    }
  });

  it("later R blocks keep the stale v in their second call (official code): drift dt/2 (d - v) per block", async () => {
    // H1R3 on a(t): block k >= 2 gets v = previous d = a(t_{k-1}) while d = a(t_k), so each adds
    // dt/2 (a(t_k) - a(t_{k-1})) to Heun; the sum telescopes to dt/2 (a(t_3) - a(t_1)).
    const x0 = startPoints(4);
    const dt = 1 / 4;
    const heun = await solveFixedStep(timeOnly, x0, { method: "heun", steps: 4 });
    const r = await sampleFlowTurbo(timeOnly, x0, { plan: "H1R3", refiner: exactRefiner(timeOnly) });
    const drift = (dt / 2) * (a(3 * dt) - a(dt));
    expect(Math.abs(drift)).toBeGreaterThan(1e-3); // the check below could not pass by accident
    for (let i = 0; i < x0.length; i++) expect(r.x[i] - heun.x[i]).toBeCloseTo(drift, 14);
  });

  it("calls the refiner with (x_k, t_k, v) then (x_k + dt d, t_{k+1}, the same v)", async () => {
    const base = fieldOf(MIXTURE);
    const baseOut: Float64Array[] = [];
    const f = (x: Float64Array, t: number) => {
      const out = base(x, t);
      baseOut.push(out);
      return out;
    };
    const calls: { x: Float64Array; t: number; v: Float64Array; out: Float64Array }[] = [];
    const g: RefinerField<Float64Array> = (x, t, v) => {
      const out = x.map((xi, i) => 0.1 * xi - 0.2 * v[i] + t); // any smooth delta v
      calls.push({ x, t, v, out });
      return out;
    };
    const x0 = startPoints(5);
    const traj = (await sampleFlowTurbo(f, x0, { plan: "H1R2", refiner: g, trajectory: true })).trajectory!;
    const dt = 1 / 3;
    expect(calls.map((c) => c.t)).toEqual([1 / 3, 2 / 3, 2 / 3, 1]);
    // First R block: incoming v is H's predictor slope (the second base output), kept for both calls.
    expect(calls[0].v).toBe(baseOut[1]);
    expect(calls[1].v).toBe(baseOut[1]);
    expect(Array.from(calls[0].x)).toEqual(Array.from(traj[1]));
    const d = ops.lincomb([1, 1], [calls[0].out, calls[0].v]);
    expect(maxAbsDiff(calls[1].x, ops.lincomb([1, dt], [traj[1], d]))).toBeLessThan(1e-15);
    const dPrime = ops.lincomb([1, 1], [calls[1].out, d]);
    expect(maxAbsDiff(traj[2], ops.lincomb([1, dt / 2, dt / 2], [traj[1], d, dPrime]))).toBeLessThan(1e-15);
    // Second R block: incoming v is the first block's d.
    expect(maxAbsDiff(calls[2].v, d)).toBe(0);
    expect(calls[3].v).toBe(calls[2].v);
  });

  it("requires a refiner when the plan has R blocks, and a grid of the plan's length", async () => {
    const f = fieldOf(MIXTURE);
    await expect(sampleFlowTurbo(f, startPoints(2), { plan: "H1R1" })).rejects.toThrow(/no refiner/);
    await expect(sampleFlowTurbo(f, startPoints(2), { plan: "H2", grid: [0, 1] })).rejects.toThrow(
      /grid has 2/,
    );
    await expect(sampleFlowTurbo(f, startPoints(2), { plan: "R1" })).rejects.toThrow(/base velocity/);
  });
});

describe("FlowTurbo sampler: accounting and the doubled CFG batch", () => {
  for (const plan of ["H1P2R2", "H2P0R1", "H3", "H1P3", "P5H7R3", "H1P1R1P1"]) {
    it(`${plan}: counted NFE match the plan (base and refiner separately)`, async () => {
      let base = 0;
      let refiner = 0;
      const f = (x: Float64Array, t: number) => {
        base++;
        return fieldOf(MIXTURE)(x, t);
      };
      const g: RefinerField<Float64Array> = (x) => {
        refiner++;
        return new Float64Array(x.length);
      };
      const blocks: BlockKind[] = [];
      const r = await sampleFlowTurbo(f, startPoints(3), {
        plan,
        refiner: g,
        onStep: (s) => void blocks.push(s.block!),
      });
      expect(r.nfe).toEqual({ base, refiner });
      expect(r.nfe).toEqual(planNfe(parsePlan(plan)));
      expect(blocks).toEqual(parsePlan(plan).blocks);
      expect(r.steps).toBe(parsePlan(plan).steps);
    });
  }

  it("runs the golden-case layout: x_init [4,4,8,8] = cat[z, z], trajectory after every block", async () => {
    // Mock networks with class-dependent outputs: the first half of the batch is conditional.
    const shape = [4, 4, 8, 8];
    const n = 4 * 4 * 8 * 8;
    const model = (x: Float32Array, t: number) =>
      Float32Array.from(x, (v, i) => Math.sin(v + t) + (i < n / 2 ? 0.3 : -0.2) * ((i >> 6) % 4));
    const refiner = (x: Float32Array, t: number, v: Float32Array) =>
      Float32Array.from(x, (xi, i) => 0.05 * Math.cos(xi * t) - 0.01 * v[i] + (i < n / 2 ? 0.02 : 0));
    const z = Float32Array.from({ length: n / 2 }, (_, i) => Math.sin(1.7 * i));
    const run = (x0: Float32Array) =>
      sampleFlowTurbo(model, x0, {
        plan: "H1P2R2",
        refiner,
        guidance: { scale: 4, shape, channels: "sit" },
        trajectory: true,
      });
    const r = await run(doubleBatch(z));
    expect(r.trajectory).toHaveLength(6);
    expect(r.nfe).toEqual({ base: 4, refiner: 4 });
    const half = n / 2;
    for (const x of r.trajectory!) {
      expect(x.length).toBe(n);
      for (let i = 0; i < half; i++) {
        const channel = (i >> 6) % 4;
        if (channel < 3) expect(x[i + half]).toBe(x[i]); // guided channels move together
      }
    }
    // Channel 3 differs between halves, and the first half never reads the second half.
    const last = r.trajectory![5];
    expect(Math.abs(last[3 * 64] - last[half + 3 * 64])).toBeGreaterThan(1e-3);
    const other = doubleBatch(z);
    other.fill(7, half);
    const r2 = await run(other);
    expect(Array.from(r2.x.subarray(0, half))).toEqual(Array.from(r.x.subarray(0, half)));
  });
});
