import { syntheticSet } from "@flowturbo/sit";
import { describe, expect, test } from "vitest";
import { refinerFeeds } from "../../src";

const set = syntheticSet(10, 3, 8);

describe("refiner training data: a pure function of (seed, step, sample)", () => {
  test("step k's feeds do not depend on which steps were computed before (resume)", () => {
    const a = refinerFeeds({ set, batch: 3, seed: 11 });
    const b = refinerFeeds({ set, batch: 3, seed: 11 });
    for (let k = 0; k < 6; k++) a(k);
    const fa = a(6);
    const fb = b(6);
    for (const key of ["x1", "x0", "t", "y", "drop", "dt"]) expect(fb[key].data).toEqual(fa[key].data);
    const dt = fa.dt.toFloat64()[0];
    expect(dt).toBeGreaterThanOrEqual(0);
    expect(dt).toBeLessThan(0.12);
    expect(b(7).dt.data[0]).not.toBe(fa.dt.data[0]);
    expect(fa.x0.data).not.toEqual(b(7).x0.data);
  });
});
