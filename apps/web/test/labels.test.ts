import { checkRequest, parseMethod } from "@flowturbo/pipeline";
import { labelForSample } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import { labelsFor } from "../src/labels";

describe("labelsFor", () => {
  test("random: sample i gets the CLI's default label of (seed, i)", () => {
    const got = labelsFor("random", 20, 7, 9);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => labelForSample(7, i, 9)));
    expect(new Set(got).size).toBeGreaterThan(3);
  });
  test("one class for all; the pipeline's rules refuse a class the model does not have", () => {
    expect(labelsFor(4, 3, 0, 9)).toEqual([4, 4, 4]);
    const rules = {
      method: parseMethod({ plan: "fast" }),
      compile: "block",
      cfg: 1,
      seed: 0,
      samples: 1,
      batch: 1,
    } as const;
    const problems = checkRequest(
      { ...rules, labels: labelsFor(9, 1, 0, 9) },
      { numClasses: 9, hasRefiner: true },
    );
    expect(problems.map((p) => p.message)).toEqual(["class 9 is not a class of this model (0..8)"]);
  });
});
