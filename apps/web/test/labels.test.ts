import { labelForSample } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import { labelsFor } from "../src/labels";

describe("labelsFor", () => {
  test("random: sample i gets the CLI's default label of (seed, i)", () => {
    const got = labelsFor("random", 20, 7, 9);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => labelForSample(7, i, 9)));
    expect(new Set(got).size).toBeGreaterThan(3);
  });
  test("one class for all; out-of-range classes refused", () => {
    expect(labelsFor(4, 3, 0, 9)).toEqual([4, 4, 4]);
    expect(() => labelsFor(9, 1, 0, 9)).toThrow(/class 9 is not in 0\.\.8/);
  });
});
