import { quantizeImages, Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import { gridRgba, gridSize, previewImages, toRgba } from "../src/images";

describe("images", () => {
  test("toRgba quantizes as the CLI's PNGs (SiT: clamp(127.5 x + 128), truncated), alpha 255", () => {
    const shape = [2, 3, 4, 5];
    const data = Float32Array.from({ length: 120 }, (_, i) => Math.sin(i * 1.7) * 1.3);
    const want = quantizeImages(new Tensor("float32", shape, data)).data as Uint8Array;
    const got = toRgba(data, shape);
    expect(got).toHaveLength(2);
    for (let i = 0; i < 2; i++)
      for (let p = 0; p < 20; p++) {
        for (let c = 0; c < 3; c++) expect(got[i][4 * p + c]).toBe(want[(i * 20 + p) * 3 + c]);
        expect(got[i][4 * p + 3]).toBe(255);
      }
    expect(() => toRgba(new Float32Array(4), [1, 4, 1, 1])).toThrow(/expected images \[n, 3, H, W\]/);
  });

  test("grid: near-square, images at their cells, white gaps", () => {
    expect(gridSize(9)).toEqual({ cols: 3, rows: 3 });
    expect(gridSize(5)).toEqual({ cols: 3, rows: 2 });
    const img = (v: number) => new Uint8ClampedArray(2 * 2 * 4).fill(v);
    const g = gridRgba([img(10), img(20), img(30)], 2, 2, 1);
    expect([g.width, g.height]).toEqual([5, 5]);
    const at = (x: number, y: number) => g.data[(y * g.width + x) * 4];
    expect([at(0, 0), at(1, 1), at(2, 0), at(3, 0), at(4, 1), at(0, 3), at(4, 4)]).toEqual([
      10, 10, 255, 20, 20, 30, 255,
    ]);
  });

  test("previews of any state span [-1, 1] per sample", () => {
    const data = Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => i * 3 - 7);
    const out = previewImages(data, [2, 4, 2, 2]);
    expect(out).toHaveLength(2 * 3 * 4);
    expect(Math.min(...out.subarray(0, 12))).toBeCloseTo(-1, 6);
    expect(Math.max(...out.subarray(0, 12))).toBeCloseTo(1, 6);
  });
});
