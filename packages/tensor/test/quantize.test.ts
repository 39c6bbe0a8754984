import { expect, test } from "vitest";
import { quantizeImages, Tensor } from "../src";

test("SiT quantization: clamp(127.5 x + 128, 0, 255) truncated, NCHW -> NHWC", () => {
  // one image, 2 channels, 1x3 pixels
  const x = Tensor.from("float32", [1, 2, 1, 3], [-1, 0, 1, -2, 0.5, 2]);
  const q = quantizeImages(x);
  expect(q.shape).toEqual([1, 1, 3, 2]);
  // pixel-major, channel-minor: (c0, c1) per pixel
  expect([...q.data]).toEqual([0, 0, 128, 191, 255, 255]);
  expect(quantizeImages(Tensor.from("float32", [1, 1, 1], [0.999])).shape).toEqual([1, 1, 1]);
  expect(() => quantizeImages(Tensor.zeros("float32", [4]))).toThrow(/expected \[N, C, H, W\]/);
});
