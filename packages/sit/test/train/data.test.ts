import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "@flowturbo/data";
import { saveNpzFile } from "@flowturbo/tensor/node";
import { Tensor } from "@flowturbo/tensor";
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

  test("large sets, ADM sample npz files, and labels checked against the classes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flowturbo-npz-"));
    try {
      const n = 200_000; // 1x1 images: large enough to overflow a spread of the labels
      const images = new Tensor("uint8", [n, 1, 1, 3], new Uint8Array(n * 3));
      const labels = Tensor.from(
        "int64",
        [n],
        Array.from({ length: n }, (_, i) => BigInt(i % 7)),
      );
      const big = join(dir, "big.npz");
      await saveNpzFile(
        big,
        new Map<string, Tensor>([
          ["images", images],
          ["labels", labels],
        ]),
      );
      const d = await loadTrainingNpz(big);
      expect([d.set.length, d.set.numClasses, d.set.label(n - 1)]).toEqual([n, 7, (n - 1) % 7]);
      // ADM layout (flowturbo sample -o samples.npz)
      const adm = join(dir, "adm.npz");
      await saveNpzFile(
        adm,
        new Map<string, Tensor>([
          ["arr_0", images.sliceRows(0, 10)],
          ["arr_1", labels.sliceRows(0, 10)],
        ]),
      );
      expect((await loadTrainingNpz(adm)).set.length).toBe(10);
      const bad = async (value: bigint) => {
        const path = join(dir, `bad${value}.npz`);
        const l = labels.sliceRows(0, 3).toFloat64();
        l[2] = Number(value);
        await saveNpzFile(
          path,
          new Map<string, Tensor>([
            ["images", images.sliceRows(0, 3)],
            ["labels", Tensor.from("int64", [3], [...l].map(BigInt))],
          ]),
        );
        return loadTrainingNpz(path);
      };
      await expect(bad(-5n)).rejects.toThrow(
        /bad-5\.npz 'labels': label -5 of example 2 is not a class id in 0\.\.99999/,
      );
      await expect(bad(1_000_000_000n)).rejects.toThrow(/label 1000000000 of example 2 is not a class id/);
      await saveNpzFile(join(dir, "none.npz"), new Map([["x", images.sliceRows(0, 1)]]));
      await expect(loadTrainingNpz(join(dir, "none.npz"))).rejects.toThrow(
        /none\.npz: no 'labels' array .*an ADM sample npz holds 'arr_0' and 'arr_1'\); it has x/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
