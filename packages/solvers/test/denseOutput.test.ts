import { describe, expect, it } from "vitest";
import { solveDopri5 } from "../src/index";
import { maxAbsDiff, startPoints } from "./fields";

// A linear flow with a closed-form solution: data ~ N(mu, s^2) per element under the path
// x_t = t*x1 + (1-t)*x0 has v(x, t) = mu + k(t) (x - t*mu), k = (t s^2 - (1 - t)) / sigma_t^2, and
// the flow from x0 is x(t) = t*mu + sigma_t*x0 with sigma_t = sqrt(t^2 s^2 + (1 - t)^2).
const mu = 0.5;
const s = 0.3;
const sigma = (t: number) => Math.sqrt(t * t * s * s + (1 - t) ** 2);
const velocity = (x: Float64Array, t: number) => {
  const k = (t * s * s - (1 - t)) / sigma(t) ** 2;
  return x.map((xi) => mu + k * (xi - t * mu));
};
const exactAt = (x0: Float64Array, t: number) => x0.map((v) => t * mu + sigma(t) * v);

describe("dopri5 dense output (outputTimes)", () => {
  const times = [0, 0.13, 0.4, 0.77, 1];
  const x0 = startPoints(21);

  for (const [atol, rtol, bound] of [
    [1e-6, 1e-3, 5e-3], // SiT's tolerances: 4 steps, so most requested times fall inside a step
    [1e-9, 1e-7, 1e-6],
  ] as const) {
    it(`matches the closed-form solution at 5 requested times (atol ${atol}, rtol ${rtol})`, async () => {
      const r = await solveDopri5(velocity, x0, { outputTimes: times, atol, rtol });
      expect(r.outputs).toHaveLength(5);
      expect(r.outputs?.[0]).toBe(x0);
      expect(r.outputs?.[4]).toBe(r.x);
      for (let i = 1; i < times.length; i++) {
        const err = maxAbsDiff(r.outputs![i], exactAt(x0, times[i]));
        expect(err, `t = ${times[i]}`).toBeLessThan(bound);
        expect(err, `t = ${times[i]}`).toBeGreaterThan(0); // interpolated values, not copies of exact data
      }
      // The requested times do not change the steps: same evaluations and end state as without them.
      const plain = await solveDopri5(velocity, x0, { atol, rtol });
      expect(r.nfe).toEqual(plain.nfe);
      expect(Array.from(r.x)).toEqual(Array.from(plain.x));
    });
  }

  it("interpolates inside steps: several requested times within one accepted step", async () => {
    const dense = Array.from({ length: 41 }, (_, i) => i / 40);
    const stepEnds: number[] = [];
    const r = await solveDopri5(velocity, x0, {
      outputTimes: dense,
      atol: 1e-9,
      rtol: 1e-7,
      onStep: (info) => void stepEnds.push(info.t),
    });
    expect(stepEnds.length).toBeLessThan(dense.length - 1);
    dense.forEach((t, i) => {
      expect(maxAbsDiff(r.outputs![i], exactAt(x0, t))).toBeLessThan(1e-6);
    });
  });

  it("works with torchdiffeq's overshooting last step and on an interval other than [0, 1]", async () => {
    let tMax = 0;
    const r = await solveDopri5(
      (x: Float64Array, t: number) => {
        tMax = Math.max(tMax, t);
        return velocity(x, t);
      },
      exactAt(x0, 0.2),
      { outputTimes: [0.2, 0.5, 0.9], clipToEnd: false, atol: 1e-9, rtol: 1e-7 },
    );
    expect(tMax).toBeGreaterThan(0.9);
    expect(maxAbsDiff(r.outputs![1], exactAt(x0, 0.5))).toBeLessThan(1e-6);
    expect(maxAbsDiff(r.x, exactAt(x0, 0.9))).toBeLessThan(1e-6);
  });

  it("rejects unordered or conflicting times", async () => {
    await expect(solveDopri5(velocity, x0, { outputTimes: [0, 0.5, 0.5, 1] })).rejects.toThrow(/increase/);
    await expect(solveDopri5(velocity, x0, { outputTimes: [0] })).rejects.toThrow(/at least 2/);
    await expect(solveDopri5(velocity, x0, { outputTimes: [0, 1], t1: 1 })).rejects.toThrow(/not both/);
    await expect(solveDopri5(velocity, x0, { outputTimes: [0, Number.NaN] })).rejects.toThrow(/finite/);
  });
});
