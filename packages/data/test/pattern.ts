// The integer test pattern of test/fixtures/make_pil_fixtures.py (noise + smooth ramps), bit for bit.
import type { RgbImage } from "../src/index";

export function pattern(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let hsh = (Math.imul(x, 73856093) ^ Math.imul(y, 19349663) ^ Math.imul(c + 1, 83492791)) >>> 0;
        hsh = Math.imul(hsh ^ (hsh >>> 15), 0x2c1b3c6d) >>> 0;
        const noise = hsh >>> 24;
        const smooth = ((((x * x + 2 * y * y + 40 * c) >>> 0) >>> 4) & 255) >>> 0;
        data[(y * w + x) * 3 + c] = (noise >>> 2) + ((smooth * 3) >>> 2);
      }
    }
  }
  return { width: w, height: h, data };
}
