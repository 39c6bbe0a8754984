// The one parser of sampling methods: presets, plans, solvers, their limits, and errors naming the field.
import { formatPlan } from "@flowturbo/solvers";
import { describe, expect, test } from "vitest";
import {
  blockPlanOf,
  checkRequest,
  defaultCompileLevel,
  MAX_STEPS,
  MethodError,
  methodInput,
  methodLabel,
  parseMethod,
  usesRefiner,
} from "../src";

const fieldOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof MethodError) return `${e.field}: ${e.message}`;
    throw e;
  }
  return "no error";
};

describe("parseMethod", () => {
  test("presets and plans become one canonical typed plan; no input is the fast preset", () => {
    const fast = parseMethod({ plan: "fast" });
    expect(fast).toMatchObject({ kind: "plan", text: "H1P5R3", spec: { plan: "H1P5R3" } });
    expect(parseMethod({})).toEqual(fast);
    expect(parseMethod({ plan: "Quality" })).toMatchObject({ text: "H8P9R5" });
    expect(parseMethod({ plan: "h2p0r1" })).toMatchObject({ text: "H2R1" });
    expect(usesRefiner(fast)).toBe(true);
    expect(usesRefiner(parseMethod({ plan: "H3" }))).toBe(false);
  });

  test("solvers with their steps and tolerances; JSON form round-trips", () => {
    for (const input of [
      { solver: "heun", steps: 8 },
      { solver: "rk4_38", steps: 3 },
      { solver: "dopri5" },
      { solver: "dopri5", atol: 1e-7, rtol: 1e-5 },
      { solver: "sde" },
      { solver: "sde", steps: 20 },
      { plan: "H2P4R2" },
    ]) {
      const m = parseMethod(input);
      expect(methodInput(m)).toEqual(input);
      expect(parseMethod(methodInput(m))).toEqual(m);
    }
    expect(parseMethod({ solver: "dopri5" })).toMatchObject({ atol: 1e-6, rtol: 1e-3 });
    expect(parseMethod({ solver: "sde" })).toMatchObject({ steps: 250 });
    expect(methodLabel(parseMethod({ solver: "heun", steps: 1 }))).toBe("heun, 1 step");
  });

  test("Heun N is block plan HN; only plans and Heun have block plans", () => {
    expect(formatPlan(blockPlanOf(parseMethod({ solver: "heun", steps: 5 }))!)).toBe("H5");
    expect(blockPlanOf(parseMethod({ solver: "euler", steps: 5 }))).toBeUndefined();
    expect(defaultCompileLevel(parseMethod({ plan: "H1P2" }))).toBe("block");
    expect(defaultCompileLevel(parseMethod({ solver: "dopri5" }))).toBe("model");
  });

  test("bad inputs name the field at fault", () => {
    expect(fieldOf(() => parseMethod({ plan: "H1X2" }))).toMatch(
      /^plan: unknown block 'X'.*presets: fast = H1P5R3/,
    );
    expect(fieldOf(() => parseMethod({ plan: "" }))).toMatch(/^plan: empty plan/);
    expect(fieldOf(() => parseMethod({ plan: `H${MAX_STEPS}P1` }))).toMatch(
      /^plan: .* has 1001 steps; at most 1000/,
    );
    expect(fieldOf(() => parseMethod({ plan: "fast", solver: "heun" }))).toMatch(
      /^solver: give a plan or a solver/,
    );
    expect(fieldOf(() => parseMethod({ plan: "fast", steps: 50 }))).toMatch(/^steps: steps go with a solver/);
    expect(fieldOf(() => parseMethod({ solver: "rk5", steps: 2 }))).toMatch(
      /^solver: solver must be one of euler, midpoint, heun, rk4, rk4_38, dopri5, sde/,
    );
    expect(fieldOf(() => parseMethod({ solver: "heun" }))).toMatch(
      /^steps: solver heun needs a number of steps/,
    );
    expect(fieldOf(() => parseMethod({ solver: "heun", steps: 0 }))).toMatch(
      /^steps: steps must be an integer in 1\.\.1000, got 0/,
    );
    expect(fieldOf(() => parseMethod({ solver: "heun", steps: 1e9 }))).toMatch(/^steps: .*1000000000/);
    expect(fieldOf(() => parseMethod({ solver: "heun", steps: 2.5 }))).toMatch(/^steps: /);
    expect(fieldOf(() => parseMethod({ solver: "dopri5", steps: 5 }))).toMatch(
      /^steps: dopri5 chooses its own steps/,
    );
    expect(fieldOf(() => parseMethod({ solver: "dopri5", rtol: 0 }))).toMatch(/^rtol: /);
    expect(fieldOf(() => parseMethod({ solver: "euler", steps: 2, atol: 1e-3 }))).toMatch(
      /^atol: tolerances go with dopri5/,
    );
    expect(fieldOf(() => parseMethod({ solver: "sde", steps: 1 }))).toMatch(
      /^steps: the SDE grid needs at least 2 points/,
    );
  });

  test("checkRequest without a model checks what needs none (before a model is loaded)", () => {
    const r = {
      method: parseMethod({ solver: "rk4", steps: 4 }),
      compile: "block" as const,
      cfg: 1,
      seed: 0,
      samples: 1e9,
      batch: 1e6,
    };
    expect(checkRequest(r).map((p) => p.field)).toEqual(["compile", "samples", "batch"]);
  });
});
