import { describe, expect, it } from "vitest";
import {
  fromDiffusersVelocity,
  gridFromSigmas,
  linspace,
  shiftedGrid,
  shiftTime,
  sigmaToTime,
  sitGrid,
  solveFixedStep,
  timeToSigma,
  uniformGrid,
} from "../src/index";

describe("time grids", () => {
  it("SiT's grid is linspace(0, 1, n): n points, n-1 steps, exact endpoints", () => {
    const g = sitGrid(50);
    expect(g).toHaveLength(50);
    expect(g[0]).toBe(0);
    expect(g[49]).toBe(1);
    expect(g[1]).toBeCloseTo(1 / 49, 15);
    expect(linspace(0, 0.96, 250)[249]).toBe(0.96);
    expect(() => linspace(0, 1, 1)).toThrow(/count >= 2/);
  });

  it("FlowTurbo's grid has N intervals t_k = k/N", () => {
    expect(uniformGrid(4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(() => uniformGrid(0)).toThrow(/at least 1/);
  });

  it("diffusers' shift: sigma' = s*sigma/(1+(s-1)*sigma), t = 1 - sigma", () => {
    // shift 3 at t = 0.5: sigma 0.5 -> 1.5/2 = 0.75 -> t = 0.25.
    expect(shiftTime(0.5, 3)).toBeCloseTo(0.25, 15);
    expect(shiftTime(0.3, 1)).toBeCloseTo(0.3, 15);
    const g = shiftedGrid(uniformGrid(8), 3);
    expect(g[0]).toBe(0);
    expect(g[8]).toBe(1);
    for (let k = 1; k <= 8; k++) {
      expect(g[k]).toBeGreaterThan(g[k - 1]);
      expect(g[k]).toBeLessThanOrEqual(k / 8); // shift > 1 spends more steps near the noise end
    }
    expect(() => shiftTime(0.5, 0)).toThrow(/positive/);
  });

  it("maps diffusers' sigma convention: t = 1 - sigma, v = -v_diffusers", async () => {
    expect(gridFromSigmas([1, 0.75, 0.25, 0])).toEqual([0, 0.25, 0.75, 1]);
    expect(sigmaToTime(0.2)).toBeCloseTo(0.8, 15);
    expect(timeToSigma(0.8)).toBeCloseTo(0.2, 15);
    // diffusers' flow-match Euler: x_next = x + (sigma_next - sigma) * v_d. With v_d = noise - data
    // for a point mass at data = 2 (v_d = (x - 2)/sigma), both give the same trajectory.
    const sigmas = [1, 0.6, 0.3, 0];
    const vd = (x: Float64Array, sigma: number) => x.map((v) => (v - 2) / sigma);
    let xd = Float64Array.of(0.5);
    for (let i = 0; i < sigmas.length - 1; i++) {
      const v = vd(xd, sigmas[i]);
      xd = xd.map((x, j) => x + (sigmas[i + 1] - sigmas[i]) * v[j]);
    }
    const r = await solveFixedStep(fromDiffusersVelocity(vd), Float64Array.of(0.5), {
      method: "euler",
      grid: gridFromSigmas(sigmas),
    });
    expect(r.x[0]).toBeCloseTo(xd[0], 14);
    expect(r.x[0]).toBeCloseTo(2, 12);
  });
});
