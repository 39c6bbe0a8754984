// Hand-computable cases of the Pillow resampler and ADM center crop.
import { describe, expect, it } from "vitest";
import { axisCoefficients, centerCropArr, flipHorizontal, resizeRgb, roundHalfEven } from "../src/index";
import { solid } from "./helpers";
import { pattern } from "./pattern";

function gray(w: number, h: number, values: number[]) {
  const data = new Uint8Array(w * h * 3);
  values.forEach((v, i) => {
    data.fill(v, 3 * i, 3 * i + 3);
  });
  return { width: w, height: h, data };
}

describe("resizeRgb", () => {
  it("keeps constant images constant (any filter, up and down)", () => {
    for (const filter of ["box", "bilinear", "bicubic", "lanczos"] as const) {
      for (const [W, H] of [
        [7, 5],
        [40, 3],
        [3, 61],
      ]) {
        const out = resizeRgb(solid(17, 13, [0, 128, 255]), W, H, filter);
        expect(out.data).toEqual(solid(W, H, [0, 128, 255]).data);
      }
    }
  });

  it("box 2x averages pairs, horizontally then vertically, each rounded half up", () => {
    // rows [0 1] and [0 0]: horizontal (0+1+1)>>1 = 1 and 0; vertical (1+0+1)>>1 = 1 (the exact mean 0.25 would round to 0)
    expect([...resizeRgb(gray(2, 2, [0, 1, 0, 0]), 1, 1, "box").data]).toEqual([1, 1, 1]);
    // 10, 20, 30, 41 -> rows 15, 36 (35.5 up) -> (15 + 36 + 1) >> 1 = 26
    expect([...resizeRgb(gray(2, 2, [10, 20, 30, 41]), 1, 1, "box").data]).toEqual([26, 26, 26]);
    const out = resizeRgb(gray(4, 2, [0, 2, 4, 6, 8, 10, 12, 14]), 2, 1, "box");
    expect([...out.data]).toEqual([5, 5, 5, 9, 9, 9]);
  });

  it("box coefficients at scale 2 are two taps of one half", () => {
    const c = axisCoefficients(8, 4, "box");
    expect(c.ksize).toBe(3);
    expect([...c.bounds]).toEqual([0, 2, 2, 2, 4, 2, 6, 2]);
    expect(c.weights[0]).toBe(1 << 21);
    expect(c.weights[1]).toBe(1 << 21);
  });

  it("bicubic coefficients: upscaling 2x uses Keys' a = -0.5 weights at distances 0.25 and 0.75", () => {
    const c = axisCoefficients(8, 16, "bicubic");
    // output pixel 5: center 2.75 -> taps at 1,2,3,4 (distances 1.25, 0.25, 0.75, 1.75)
    const k = (x: number) => {
      x = Math.abs(x);
      return x < 1 ? 1.5 * x ** 3 - 2.5 * x ** 2 + 1 : x < 2 ? -0.5 * x ** 3 + 2.5 * x ** 2 - 4 * x + 2 : 0;
    };
    const expected = [1.25, 0.25, 0.75, 1.75].map((d) => Math.round(k(d) * (1 << 22)));
    expect(c.bounds[10]).toBe(1);
    expect([...c.weights.subarray(5 * c.ksize, 5 * c.ksize + 4)]).toEqual(expected);
  });

  it("is mirror-symmetric: resizing a mirrored image mirrors the result", () => {
    const img = pattern(45, 31);
    for (const filter of ["box", "bicubic"] as const) {
      const a = resizeRgb(flipHorizontal(img), 19, 13, filter);
      const b = flipHorizontal(resizeRgb(img, 19, 13, filter));
      expect(a.data).toEqual(b.data);
    }
  });

  it("same size is a copy", () => {
    const img = pattern(9, 4);
    const out = resizeRgb(img, 9, 4, "bicubic");
    expect(out.data).toEqual(img.data);
    expect(out.data).not.toBe(img.data);
  });
});

describe("centerCropArr", () => {
  it("gives size x size and keeps constants", () => {
    for (const [w, h, s] of [
      [500, 375, 256],
      [64, 64, 32],
      [31, 77, 40],
    ]) {
      const out = centerCropArr(solid(w, h, [9, 200, 77]), s);
      expect([out.width, out.height]).toEqual([s, s]);
      expect(Buffer.from(out.data).equals(solid(s, s, [9, 200, 77]).data)).toBe(true);
    }
  });

  it("halves with BOX while the short side is >= 2 * size (4x4 blocks of a 2-level checkerboard stay exact)", () => {
    // 128x128 made of 4x4 constant blocks -> two 2x box passes -> 32x32 of the block values exactly
    const w = 128;
    const data = new Uint8Array(w * w * 3);
    for (let y = 0; y < w; y++)
      for (let x = 0; x < w; x++)
        data.fill(((x >> 2) + (y >> 2)) % 2 ? 200 : 10, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const out = centerCropArr({ width: w, height: w, data }, 32);
    const expected = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++)
        expected.fill((x + y) % 2 ? 200 : 10, (y * 32 + x) * 3, (y * 32 + x) * 3 + 3);
    expect(out.data).toEqual(expected);
  });

  it("crops the center: offsets (h - size) // 2 and (w - size) // 2", () => {
    // 37 x 16 at size 16: no resize; the crop starts at column 10
    const img = pattern(37, 16);
    const out = centerCropArr(img, 16);
    expect([...out.data.subarray(0, 3)]).toEqual([...img.data.subarray(30, 33)]);
  });

  it("rounds side lengths like Python (half to even)", () => {
    expect(roundHalfEven(42.5)).toBe(42);
    expect(roundHalfEven(43.5)).toBe(44);
    expect(roundHalfEven(2.4999)).toBe(2);
    expect(roundHalfEven(-0.5)).toBe(-0);
  });
});
