import { Tensor } from "@flowturbo/tensor";
import { describe, expect, it } from "vitest";
import {
  asUint8Nhwc,
  cropRgb,
  floatToUint8Nhwc,
  flipHorizontal,
  nhwcImage,
  rgbToTensor,
  toRgb,
} from "../src/index";

describe("image conversions", () => {
  it("toRgb replicates gray and drops alpha without compositing", () => {
    expect([...toRgb(2, 1, 1, Uint8Array.of(7, 9)).data]).toEqual([7, 7, 7, 9, 9, 9]);
    expect([...toRgb(1, 1, 2, Uint8Array.of(7, 0)).data]).toEqual([7, 7, 7]);
    expect([...toRgb(1, 1, 4, Uint8Array.of(1, 2, 3, 0)).data]).toEqual([1, 2, 3]);
    expect(() => toRgb(2, 2, 3, new Uint8Array(5))).toThrow(/need 12 bytes/);
    expect(() => toRgb(1, 1, 5, new Uint8Array(5))).toThrow(/channel count 5/);
  });

  it("CHW float is v / 127.5 - 1 in float32 (ADM), with exact ends", () => {
    const img = toRgb(2, 1, 3, Uint8Array.of(0, 128, 255, 10, 20, 30));
    const t = rgbToTensor(img);
    expect(t.shape).toEqual([3, 1, 2]);
    expect(t.data[0]).toBe(-1);
    expect(t.data[4]).toBe(1);
    expect(t.data[2]).toBe(Math.fround(Math.fround(128 / 127.5) - 1));
    // channel 1 plane: pixel 0 = 128, pixel 1 = 20
    expect(t.data[3]).toBe(Math.fround(Math.fround(20 / 127.5) - 1));
    const flipped = rgbToTensor(img, true);
    expect(flipped.data[0]).toBe(t.data[1]);
  });

  it("quantizes like SiT: clamp(127.5 x + 128, 0, 255) truncated, NCHW -> NHWC", () => {
    const x = Tensor.from("float32", [1, 3, 1, 2], [-1, 1, 0, -0.0001, 2, -2]);
    const u8 = floatToUint8Nhwc(x);
    expect(u8.shape).toEqual([1, 1, 2, 3]);
    // pixel 0: (-1, 0, 2) -> 0.5 -> 0, 128, 255; pixel 1: (1, -0.0001, -2) -> 255.5 -> 255, 127.98 -> 127, 0
    expect([...u8.data]).toEqual([0, 128, 255, 255, 127, 0]);
    expect(asUint8Nhwc(u8)).toBe(u8);
    expect(() => asUint8Nhwc(Tensor.zeros("uint8", [2, 3, 4]))).toThrow(/NHWC/);
  });

  it("flips, crops and views", () => {
    const img = toRgb(3, 2, 1, Uint8Array.of(1, 2, 3, 4, 5, 6));
    expect([...flipHorizontal(img).data].filter((_, i) => i % 3 === 0)).toEqual([3, 2, 1, 6, 5, 4]);
    expect([...cropRgb(img, 1, 1, 2, 1).data].filter((_, i) => i % 3 === 0)).toEqual([5, 6]);
    expect(() => cropRgb(img, 2, 0, 2, 1)).toThrow(/does not fit/);
    const batch = new Tensor("uint8", [2, 1, 1, 3], Uint8Array.of(1, 2, 3, 4, 5, 6));
    expect([...nhwcImage(batch, 1).data]).toEqual([4, 5, 6]);
  });
});
