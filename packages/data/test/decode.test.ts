// Decoding real files made here with sharp, and JPEG decoding against Pillow's (fixtures).
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openNpz } from "@flowturbo/tensor";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { encodePng } from "../src/index";
import { decodeImage, decodeImageFile } from "../src/node/index";
import { encode, tempDir } from "./helpers";
import { pattern } from "./pattern";

const fixtures = new URL("./fixtures/", import.meta.url);
const tmp = tempDir();
afterAll(tmp.cleanup);

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("decodeImage (sharp)", () => {
  it("decodes lossless PNG and WebP exactly", async () => {
    const img = pattern(41, 29);
    for (const fmt of ["png", "webp"] as const) {
      const out = await decodeImage(await encode(img, fmt));
      expect([out.width, out.height]).toEqual([41, 29]);
      expect(Buffer.from(out.data).equals(img.data)).toBe(true);
    }
  });

  it("decodes JPEG close to the original", async () => {
    const img = pattern(64, 48);
    const out = await decodeImage(await encode(img, "jpeg"));
    expect([out.width, out.height]).toEqual([64, 48]);
    let sum = 0;
    for (let i = 0; i < out.data.length; i++) sum += Math.abs(out.data[i] - img.data[i]);
    expect(sum / out.data.length).toBeLessThan(20); // a noisy pattern: JPEG error is large but bounded
  });

  it("matches Pillow's JPEG decoding of the same files (libjpeg-turbo in both)", async () => {
    const npz = await openNpz(new Uint8Array(readFileSync(new URL("pil_resample.npz", fixtures))));
    for (const tag of ["420", "444"]) {
      const ref = await npz.read(`jpeg${tag}`);
      const out = await decodeImage(readFileSync(new URL(`pattern_${tag}.jpg`, fixtures)));
      expect([out.height, out.width, 3]).toEqual([...ref.shape]);
      // Measured here: identical for 4:2:0 (fancy upsampling) and 4:4:4.
      expect(maxDiff(out.data, ref.data as Uint8Array)).toBe(0);
    }
  });

  it("drops alpha like PIL's convert('RGB') and replicates gray", async () => {
    const npz = await openNpz(new Uint8Array(readFileSync(new URL("pil_resample.npz", fixtures))));
    const rgb = pattern(9, 7);
    const rgba = new Uint8Array(9 * 7 * 4);
    for (let i = 0; i < 63; i++) {
      rgba.set(rgb.data.subarray(3 * i, 3 * i + 3), 4 * i);
      rgba[4 * i + 3] = i * 4;
    }
    const png = await sharp(rgba, { raw: { width: 9, height: 7, channels: 4 } })
      .png()
      .toBuffer();
    const out = await decodeImage(png);
    expect(Buffer.from(out.data).equals((await npz.read("rgba_to_rgb")).data as Uint8Array)).toBe(true);
    const gray = await sharp(Uint8Array.of(0, 50, 100, 250), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    expect([...(await decodeImage(gray)).data]).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 250, 250, 250]);
  });

  it("reports corrupt and truncated files with their path", async () => {
    const good = await encode(pattern(32, 32), "jpeg");
    const truncated = join(tmp.dir, "truncated.jpg");
    await writeFile(truncated, good.subarray(0, good.length >> 1));
    await expect(decodeImageFile(truncated)).rejects.toThrow(/truncated\.jpg/);
    const garbage = join(tmp.dir, "garbage.png");
    await writeFile(garbage, "not an image at all");
    await expect(decodeImageFile(garbage)).rejects.toThrow(/garbage\.png/);
    // a PNG with a broken CRC, and one cut after its header: the path and the fault in words
    const png = await encodePng({ width: 4, height: 4, data: new Uint8Array(48).fill(200) });
    const badCrc = join(tmp.dir, "crc.png");
    const bytes = png.slice();
    bytes[bytes.length - 20] ^= 0xff;
    await writeFile(badCrc, bytes);
    const cut = join(tmp.dir, "cut.png");
    await writeFile(cut, png.subarray(0, 30));
    for (const f of [badCrc, cut])
      await expect(decodeImageFile(f)).rejects.toThrow(
        new RegExp(
          `${f.replace(/[.]/g, "\\.")}: not a readable image: corrupt, truncated or of another format \\(.+\\)$`,
        ),
      );
  });
});
