import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "@flowturbo/data";
import { describe, expect, test } from "vitest";
import { emojiDatasetPath, loadImageFolder, loadTrainingNpz } from "../../src/node";

describe("training data from files", () => {
  test("an ImageFolder: one class per subfolder (sorted), center-cropped, scaled to [-1, 1], flips mirror", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flowturbo-folder-"));
    try {
      // 2 classes; each image is 12x8, left half red / right half blue (class "b": green / white)
      for (const [cls, left, right] of [
        ["a", [255, 0, 0], [0, 0, 255]],
        ["b", [0, 255, 0], [255, 255, 255]],
      ] as const) {
        await mkdir(join(dir, cls));
        for (let k = 0; k < 2; k++) {
          const data = new Uint8Array(12 * 8 * 3);
          for (let y = 0; y < 8; y++)
            for (let x = 0; x < 12; x++) data.set(x < 6 ? left : right, (y * 12 + x) * 3);
          await writeFile(join(dir, cls, `${k}.png`), await encodePng({ width: 12, height: 8, data }));
        }
      }
      const d = await loadImageFolder(dir, 4);
      expect(d.classNames).toEqual(["a", "b"]);
      expect(d.set.length).toBe(4);
      expect(d.set.shape).toEqual([3, 4, 4]);
      expect([0, 1, 2, 3].map((i) => d.set.label(i))).toEqual([0, 0, 1, 1]);
      const out = new Float32Array(48);
      d.set.write(0, false, out, 0, 0);
      // channel 0 (red): 1 on the left half, -1 on the right after the centre crop
      expect([out[0], out[1], out[2], out[3]]).toEqual([1, 1, -1, -1]);
      expect([out[32], out[35]]).toEqual([-1, 1]); // blue channel
      d.set.write(0, true, out, 0, 0);
      expect([out[0], out[3]]).toEqual([-1, 1]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the bundled emoji dataset: 32x32 RGB, 9 categories", async () => {
    expect(emojiDatasetPath()).toMatch(/emoji32\.npz$/);
    const d = await loadTrainingNpz();
    expect(d.set.shape).toEqual([3, 32, 32]);
    expect(d.set.numClasses).toBe(9);
    expect(d.classNames[0]).toBe("Smileys & Emotion");
    expect(d.set.length).toBeGreaterThan(1000);
    const out = new Float32Array(3 * 32 * 32);
    d.set.write(0, false, out, 0, 0);
    expect(Math.max(...out)).toBeLessThanOrEqual(1);
    expect(Math.min(...out)).toBeGreaterThanOrEqual(-1);
    expect(out[0]).toBe(1); // white background in the corner
  });
});
