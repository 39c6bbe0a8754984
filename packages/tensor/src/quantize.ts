import { Tensor } from "./tensor";

/**
 * SiT's quantization of model output, in float32 arithmetic as torch does it:
 * uint8 = clamp(127.5 x + 128, 0, 255) truncated. Float images [N, C, H, W] (or [C, H, W]) in [-1, 1]
 * become uint8 NHWC [N, H, W, C] ([H, W, C]).
 */
export function quantizeImages(images: Tensor): Tensor<"uint8"> {
  const single = images.rank === 3;
  if (!single && images.rank !== 4)
    throw new Error(`quantizeImages: expected [N, C, H, W] or [C, H, W], got [${images.shape}]`);
  const [n, c, h, w] = single ? [1, ...images.shape] : images.shape;
  const x = images.dtype === "float32" ? (images.data as Float32Array) : images.toFloat32();
  const out = new Uint8Array(x.length);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const src = (b * c + ch) * plane;
      for (let p = 0; p < plane; p++) {
        const v = Math.fround(Math.fround(127.5 * x[src + p]) + 128);
        out[(b * plane + p) * c + ch] = v >= 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
      }
    }
  }
  return new Tensor("uint8", single ? [h, w, c] : [n, h, w, c], out);
}
