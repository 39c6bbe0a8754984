import { describe, expect, it } from "vitest";
import { portableLog, portableSinCos2Pi32, sinCosTurn32Into } from "../../src/rng/index";

const bits = new DataView(new ArrayBuffer(8));
/** Signed distance in units in the last place between two finite float64 of the same sign. */
function ulpDistance(a: number, b: number): number {
  if (a === b) return 0;
  bits.setFloat64(0, a);
  const ia = bits.getBigInt64(0);
  bits.setFloat64(0, b);
  const ib = bits.getBigInt64(0);
  if (Math.sign(a) !== Math.sign(b)) return Number.POSITIVE_INFINITY;
  return Math.abs(Number(ia - ib));
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

describe("portableLog", () => {
  it("is within 1 ulp of Math.log over (0, 1] and beyond", () => {
    const next = lcg(5);
    let worst = 0;
    const xs: number[] = [];
    for (let i = 0; i < 200_000; i++) xs.push((next() + 1) * 2 ** -32); // the Box-Muller domain
    for (let i = 0; i < 50_000; i++) xs.push(1 + ((next() % 2_000_001) - 1_000_000) * 2 ** -52); // near 1
    for (let i = 0; i < 50_000; i++)
      xs.push(2 ** ((next() / 2 ** 32) * 2000 - 1000) * (1 + next() / 2 ** 32));
    xs.push(
      Number.MIN_VALUE,
      2 ** -1060,
      2 ** -1022,
      Number.MAX_VALUE,
      1 - 2 ** -53,
      1 + 2 ** -52,
      Math.SQRT2,
    );
    for (const x of xs) worst = Math.max(worst, ulpDistance(portableLog(x), Math.log(x)));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it("handles the special values and exact points", () => {
    expect(portableLog(1)).toBe(0);
    expect(Object.is(portableLog(1), 0)).toBe(true);
    expect(portableLog(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(portableLog(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(portableLog(-1)).toBeNaN();
    expect(portableLog(Number.NaN)).toBeNaN();
    expect(portableLog(2)).toBe(Math.LN2);
    expect(portableLog(2 ** -32)).toBe(-32 * Math.LN2);
  });
});

describe("portableSinCos2Pi32", () => {
  it("is exact at quadrant points", () => {
    expect(portableSinCos2Pi32(0)).toEqual([0, 1]);
    expect(portableSinCos2Pi32(2 ** 30)).toEqual([1, 0]);
    expect(portableSinCos2Pi32(2 ** 31)).toEqual([0, -1]);
    expect(portableSinCos2Pi32(3 * 2 ** 30)).toEqual([-1, 0]);
    for (const w of [0, 2 ** 30, 2 ** 31, 3 * 2 ** 30]) {
      for (const v of portableSinCos2Pi32(w)) expect(Object.is(v, -0)).toBe(false);
    }
  });

  it("matches Math.sin/Math.cos of the same angle", () => {
    const next = lcg(11);
    const out = new Float64Array(2);
    let worstAbs = 0;
    let worstKernelUlp = 0;
    let worstNorm = 0;
    const ws = [1, 2 ** 29 - 1, 2 ** 29, 2 ** 29 + 1, 2 ** 32 - 1, 2 ** 32 - 2 ** 29, 3 * 2 ** 29];
    for (let i = 0; i < 200_000; i++) ws.push(next());
    for (const w of ws) {
      sinCosTurn32Into(w, out, 0);
      const theta = (2 * Math.PI * w) / 2 ** 32; // Math's own rounding of theta costs ~4e-16 near 2*pi
      worstAbs = Math.max(worstAbs, Math.abs(out[0] - Math.sin(theta)), Math.abs(out[1] - Math.cos(theta)));
      worstNorm = Math.max(worstNorm, Math.abs(out[0] * out[0] + out[1] * out[1] - 1));
      // On the reduced angle (first octant, no quadrant mapping) the kernels are within 1 ulp of Math.
      if (w < 2 ** 29) {
        const x = w * (Math.PI / 2 ** 31);
        worstKernelUlp = Math.max(
          worstKernelUlp,
          ulpDistance(out[0], Math.sin(x)),
          ulpDistance(out[1], Math.cos(x)),
        );
      }
    }
    expect(worstAbs).toBeLessThan(1e-15);
    expect(worstNorm).toBeLessThan(1e-15);
    expect(worstKernelUlp).toBeLessThanOrEqual(1);
  });

  it("rejects non-uint32 input", () => {
    expect(() => portableSinCos2Pi32(-1)).toThrow();
    expect(() => portableSinCos2Pi32(2 ** 32)).toThrow();
    expect(() => portableSinCos2Pi32(0.5)).toThrow();
  });
});
