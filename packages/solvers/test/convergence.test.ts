import { describe, expect, it } from "vitest";
import { type FixedStepMethod, float64Ops, sampleFlowTurbo, solveFixedStep, uniformGrid } from "../src/index";
import {
  type Component,
  exactOf,
  fieldOf,
  GAUSSIAN,
  logSlope,
  MIXTURE,
  maxAbsDiff,
  startPoints,
} from "./fields";

// Measured order = least-squares slope of log(max error at t=1) against log(dt), float64 states.
type Scheme = FixedStepMethod | "pseudo";

async function errorAt(comps: readonly Component[], scheme: Scheme, n: number): Promise<number> {
  const f = fieldOf(comps);
  const x0 = startPoints(33);
  const grid = uniformGrid(n);
  const r =
    scheme === "pseudo"
      ? await sampleFlowTurbo(f, x0, { plan: `H1P${n - 1}`, grid, ops: float64Ops })
      : await solveFixedStep(f, x0, { method: scheme, grid, ops: float64Ops });
  return maxAbsDiff(r.x, exactOf(comps, x0));
}

async function measuredOrder(comps: readonly Component[], scheme: Scheme, ns: readonly number[]) {
  const errs: number[] = [];
  for (const n of ns) errs.push(await errorAt(comps, scheme, n));
  return logSlope(
    ns.map((n) => 1 / n),
    errs,
  );
}

const LOW = [16, 32, 64, 128];
// Fourth-order methods leave the pre-asymptotic range later and reach roundoff sooner.
const HIGH = [48, 96, 192];

const cases: [Scheme, number, readonly number[]][] = [
  ["euler", 1, LOW],
  ["heun", 2, LOW],
  ["pseudo", 2, LOW],
  ["rk4", 4, HIGH],
  ["rk4_38", 4, HIGH],
];

describe("convergence order on a Gaussian target (linear path, exact solution mu + s*x0)", () => {
  for (const [scheme, order, ns] of cases) {
    it(`${scheme}: slope within 0.2 of ${order}`, async () => {
      expect(Math.abs((await measuredOrder(GAUSSIAN, scheme, ns)) - order)).toBeLessThan(0.2);
    });
  }

  it("midpoint: at least order 2 (its h^2 error term cancels on Gaussian targets: slope ~3)", async () => {
    // Not a tuning artefact: the cancellation shows for every (mu, s) tried and on shifted grids,
    // while the same code measures 2.0 on the mixture below.
    const slope = await measuredOrder(GAUSSIAN, "midpoint", LOW);
    expect(slope).toBeGreaterThan(1.8);
    expect(Math.abs(slope - 3)).toBeLessThan(0.2);
  });
});

describe("convergence order on a two-component Gaussian mixture (exact solution by quantile transport)", () => {
  for (const [scheme, order, ns] of [...cases, ["midpoint", 2, LOW] as [Scheme, number, number[]]]) {
    it(`${scheme}: slope within 0.2 of ${order}`, async () => {
      expect(Math.abs((await measuredOrder(MIXTURE, scheme, ns)) - order)).toBeLessThan(0.2);
    });
  }

  it("errors shrink when steps are added (sanity of the measurement itself)", async () => {
    expect(await errorAt(MIXTURE, "heun", 64)).toBeLessThan(await errorAt(MIXTURE, "heun", 16));
    expect(await errorAt(MIXTURE, "rk4", 16)).toBeLessThan(await errorAt(MIXTURE, "heun", 16));
  });
});
