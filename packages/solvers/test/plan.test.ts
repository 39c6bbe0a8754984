import { describe, expect, it } from "vitest";
import { formatPlan, PlanError, parsePlan, planFromCounts, planNfe, toPlan } from "../src/index";

describe("plan strings", () => {
  it("parses H{a}P{b}R{c} into one block per step", () => {
    const p = parsePlan("H1P2R2");
    expect(p.blocks).toEqual(["H", "P", "P", "R", "R"]);
    expect(p.counts).toEqual({ H: 1, P: 2, R: 2 });
    expect(p.steps).toBe(5);
    expect(formatPlan(p)).toBe("H1P2R2");
  });

  it("accepts free orders, repeated letters, multi-digit counts, lower case and zero runs", () => {
    expect(parsePlan("P5H7R3").blocks.join("")).toBe("PPPPPHHHHHHHRRR");
    expect(parsePlan("h1p2H1r2").blocks.join("")).toBe("HPPHRR");
    expect(parsePlan("H12").steps).toBe(12);
    expect(formatPlan(parsePlan(" H2P0R1 "))).toBe("H2R1");
  });

  it("builds plans from case.json-style counts", () => {
    expect(formatPlan(planFromCounts({ heun: 1, pseudo: 2, refine: 2 }))).toBe("H1P2R2");
    expect(formatPlan(toPlan({ heun: 2, pseudo: 0, refine: 1 }))).toBe("H2R1");
    expect(() => planFromCounts({ heun: 0, pseudo: 0, refine: 2 })).toThrow(PlanError);
    expect(() => planFromCounts({ heun: -1, pseudo: 2, refine: 0 })).toThrow(/non-negative/);
  });

  it("reports an unknown letter with its position", () => {
    const err = (() => {
      try {
        parsePlan("H2X1");
      } catch (e) {
        return e as PlanError;
      }
    })();
    expect(err).toBeInstanceOf(PlanError);
    expect(err?.position).toBe(2);
    expect(err?.message).toMatch(
      /unknown block 'X' at position 2.*expected H \(Heun\), P \(pseudo corrector\) or R/,
    );
  });

  it("rejects a refiner run with no base velocity before it", () => {
    expect(() => parsePlan("R3")).toThrow(/no preceding base velocity/);
    expect(() => parsePlan("H0R2")).toThrow(/no preceding base velocity/);
    expect(() => parsePlan("R1H2")).toThrow(PlanError);
  });

  it("rejects zero steps, empty plans and missing counts", () => {
    expect(() => parsePlan("H0P0R0")).toThrow(/zero steps/);
    expect(() => parsePlan("")).toThrow(/empty plan/);
    expect(() => parsePlan("HPR")).toThrow(/needs a step count/);
    expect(() => parsePlan("H2P")).toThrow(/'P' at position 2/);
    expect(() => parsePlan("H-1")).toThrow(/step count/);
  });

  it("predicts evaluation counts: H = 2, P = 1 (2 as the first step), R = 2 refiner", () => {
    expect(planNfe(parsePlan("H1P2R2"))).toEqual({ base: 4, refiner: 4 });
    expect(planNfe(parsePlan("P5H7R3"))).toEqual({ base: 2 + 4 + 14, refiner: 6 });
    expect(planNfe(parsePlan("H8P9R5"))).toEqual({ base: 25, refiner: 10 });
  });
});
