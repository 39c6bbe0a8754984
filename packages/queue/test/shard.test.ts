import { describe, expect, test } from "vitest";
import { parseRange, shardRange } from "../src";

describe("shardRange", () => {
  test("shards tile the job without gaps or overlaps", () => {
    for (const [total, K] of [
      [10, 4],
      [3, 5],
      [50000, 7],
      [0, 2],
    ]) {
      let next = 0;
      for (let k = 0; k < K; k++) {
        const r = shardRange(`${k}/${K}`, total);
        expect(r.start).toBe(next);
        expect(r.end - r.start).toBeGreaterThanOrEqual(Math.floor(total / K));
        expect(r.end - r.start).toBeLessThanOrEqual(Math.ceil(total / K));
        next = r.end;
      }
      expect(next).toBe(total);
    }
  });
  test("bad specs name what was expected", () => {
    expect(() => shardRange("4/4", 10)).toThrow(/0 <= k < K/);
    expect(() => shardRange("1-4", 10)).toThrow(/k\/K/);
    expect(() => parseRange("5:5")).toThrow(/a < b/);
    expect(() => parseRange("0:11", 10)).toThrow(/past the 10 samples/);
    expect(parseRange("2:7")).toEqual({ start: 2, end: 7 });
  });
});
