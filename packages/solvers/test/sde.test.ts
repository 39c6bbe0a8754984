import { describe, expect, it } from "vitest";
import { linspace, solveFixedStep, solveSde } from "../src/index";
import { fieldOf, GAUSSIAN, MIXTURE, maxAbsDiff, startPoints } from "./fields";
import { gaussians, noiseSource } from "./gaussianNoise";

const mean = (x: ArrayLike<number>) => Array.from(x).reduce((a, b) => a + b, 0) / x.length;
const std = (x: ArrayLike<number>) => {
  const m = mean(x);
  return Math.sqrt(Array.from(x).reduce((a, b) => a + (b - m) ** 2, 0) / (x.length - 1));
};

describe("Euler–Maruyama (SiT's SDE sampler)", () => {
  it("takes one step x + [(1+t)v - x] dt + sqrt(2(1-t)dt) z at t=0 with w = 1-t", async () => {
    // v = 3 everywhere, x0 = 2, t = 0, dt = 0.5 (grid linspace(0, 0.5, 2)), z = 0.25:
    // drift = (1 + 0)*3 - 2 = 1, x1 = 2 + 0.5*1 + sqrt(2*1*0.5)*0.25 = 2.75.
    const r = await solveSde((x) => new Float64Array(x.length).fill(3), Float64Array.of(2), {
      noise: () => Float64Array.of(0.25),
      numSteps: 2,
      t1: 0.5,
      lastStep: "none",
    });
    expect(r.x[0]).toBeCloseTo(2.75, 14);
    expect(r.nfe).toEqual({ base: 1, refiner: 0 });
  });

  it("ends with SiT's noiseless 'mean' step x + [(1+t)v - x] * 0.04 at t = 0.96", async () => {
    // Zero noise, constant v = 1: each drift step is x + ((1+t) - x) dt; check the last one alone
    // against a run one step shorter.
    const f = (x: Float64Array) => new Float64Array(x.length).fill(1);
    const zero = (_: number, like: Float64Array) => new Float64Array(like.length);
    const noisy = await solveSde(f, Float64Array.of(0.3), {
      noise: zero,
      numSteps: 5,
      lastStep: "none",
      t1: 0.96,
    });
    const full = await solveSde(f, Float64Array.of(0.3), { noise: zero, numSteps: 5 });
    expect(full.x[0]).toBeCloseTo(noisy.x[0] + (1.96 - noisy.x[0]) * 0.04, 14);
    expect(full.nfe.base).toBe(5);
    expect(full.steps).toBe(5);
  });

  it("uses SiT's defaults: linspace(0, 0.96, 250), one noise draw per noisy step, 250 NFE", async () => {
    const seen: number[] = [];
    const times: number[] = [];
    const grid = linspace(0, 0.96, 250);
    const r = await solveSde(
      (x, t) => {
        times.push(t);
        return new Float64Array(x.length);
      },
      new Float64Array(4),
      {
        noise: (step, like) => {
          seen.push(step);
          return new Float64Array(like.length);
        },
      },
    );
    expect(seen).toEqual(Array.from({ length: 249 }, (_, i) => i));
    expect(times).toEqual([...grid.slice(0, 249), 0.96]);
    expect(r.nfe.base).toBe(250);
  });

  it("with zero diffusion reduces to Euler on the same grid (plus an Euler last step)", async () => {
    const f = fieldOf(MIXTURE);
    const x0 = startPoints(9);
    const sde = await solveSde(f, x0, {
      noise: noiseSource(1),
      diffusion: () => 0,
      numSteps: 26,
      lastStep: "euler",
    });
    const ode = await solveFixedStep(f, x0, { method: "euler", grid: [...linspace(0, 0.96, 26), 1] });
    expect(maxAbsDiff(sde.x, ode.x)).toBeLessThan(1e-13);
  });

  it("samples the target distribution of a Gaussian flow (mean and std of 20k samples)", async () => {
    const { mu, s } = GAUSSIAN[0];
    const n = 20_000;
    const r = await solveSde(fieldOf(GAUSSIAN), gaussians(7, 1_000_000, n), { noise: noiseSource(7) });
    // Sampling error of the mean ~ s/sqrt(n) = 0.002; of the std ~ s/sqrt(2n) = 0.0015. The residual
    // noise of the last step (sigma(0.96) ~ 0.04 of x0) and discretization bias add ~0.01 to the std.
    expect(Math.abs(mean(r.x) - mu)).toBeLessThan(0.01);
    expect(Math.abs(std(r.x) - s)).toBeLessThan(0.02);
  });

  it("is reproducible: the same noise gives the same sample, another seed a different one", async () => {
    const f = fieldOf(MIXTURE);
    const x0 = startPoints(8);
    const a = await solveSde(f, x0, { noise: noiseSource(3), numSteps: 20 });
    const b = await solveSde(f, x0, { noise: noiseSource(3), numSteps: 20 });
    const c = await solveSde(f, x0, { noise: noiseSource(4), numSteps: 20 });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(maxAbsDiff(a.x, c.x)).toBeGreaterThan(1e-3);
  });

  it("requires a noise source", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    await expect(solveSde(fieldOf(GAUSSIAN), startPoints(2), {} as any)).rejects.toThrow(/noise/);
  });
});
