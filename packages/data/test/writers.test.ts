// PNG encoder, grids, PNG folders and ADM sample npz files (whole, streamed, ZIP64).
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { encodeNpz, openNpz, openZip, Tensor } from "@flowturbo/tensor";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { encodePng, floatToUint8Nhwc, makeGrid } from "../src/index";
import {
  listImageFiles,
  openSampleNpzWriter,
  PngFolderWriter,
  SAMPLE_FOLDER_MANIFEST,
  writePngFolder,
  writePngGrid,
  writeSampleNpz,
} from "../src/node/index";
import { tempDir } from "./helpers";
import { pattern } from "./pattern";

const tmp = tempDir();
afterAll(tmp.cleanup);

function batch(n: number, h: number, w: number, seed = 0): Tensor<"uint8"> {
  const p = pattern(w * n + seed, h);
  const out = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      out.set(
        p.data.subarray((y * (w * n + seed) + i * w) * 3, (y * (w * n + seed) + (i + 1) * w) * 3),
        (i * h + y) * w * 3,
      );
  return new Tensor("uint8", [n, h, w, 3], out);
}

describe("encodePng", () => {
  it("round-trips RGB, gray and RGBA through sharp", async () => {
    const img = pattern(33, 17);
    const png = await encodePng(img);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([33, 17, 3]);
    expect(Buffer.from(data).equals(img.data)).toBe(true);
    const g = await sharp(
      await encodePng({ width: 3, height: 1, channels: 1, data: Uint8Array.of(0, 7, 255) }),
    )
      .toColourspace("b-w")
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([...g.data]).toEqual([0, 7, 255]);
    const rgba = Uint8Array.of(1, 2, 3, 4, 250, 251, 252, 253);
    const a = await sharp(await encodePng({ width: 2, height: 1, channels: 4, data: rgba }))
      .raw()
      .toBuffer();
    expect([...a]).toEqual([...rgba]);
  });
});

describe("grids and PNG folders", () => {
  it("tiles images with padding (make_grid layout) and writes the PNG", async () => {
    const imgs = batch(5, 4, 6);
    const grid = makeGrid(imgs, 3, { padding: 1, padValue: 255 });
    expect([grid.width, grid.height]).toEqual([3 * 7 + 1, 2 * 5 + 1]);
    // image 4 sits at column 1, row 1: its top-left pixel at (1 + 7, 1 + 5)
    const at = ((1 + 5) * grid.width + 8) * 3;
    expect([...grid.data.subarray(at, at + 3)]).toEqual([...imgs.data.subarray(4 * 72, 4 * 72 + 3)]);
    expect([...grid.data.subarray(0, 3)]).toEqual([255, 255, 255]);
    const path = join(tmp.dir, "out", "grid.png");
    await writePngGrid(imgs, 3, path, { padding: 1, padValue: 255 });
    const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([22, 11]);
    expect(Buffer.from(data).equals(grid.data)).toBe(true);
  });

  it("accepts float NCHW in [-1, 1] (quantized as SiT)", async () => {
    const x = Tensor.from("float32", [1, 3, 1, 1], [-1, 0, 1]);
    expect([...makeGrid(x, 1, { padding: 0 }).data]).toEqual([0, 128, 255]);
  });

  it("writes one PNG per image, named by index and label", async () => {
    const imgs = batch(3, 5, 5);
    const dir = join(tmp.dir, "pngs");
    const paths = await writePngFolder(imgs, dir, { startIndex: 10, labels: [1, 2, 3] });
    expect(await readdir(dir)).toEqual([
      "000010_1.png",
      "000011_2.png",
      "000012_3.png",
      SAMPLE_FOLDER_MANIFEST,
    ]);
    const back = await sharp(paths[2]).raw().toBuffer();
    expect(Buffer.from(back).equals(imgs.data.subarray(2 * 75, 3 * 75))).toBe(true);
    expect(await listImageFiles(dir)).toEqual(paths);
  });

  it("a folder records completeness: readers refuse an interrupted run and read exactly a complete one's files", async () => {
    const dir = join(tmp.dir, "run");
    const imgs = batch(4, 5, 5);
    const w = await PngFolderWriter.open(dir, { count: 4 });
    await w.append(imgs.sliceRows(0, 2), [7, 7]);
    // killed here: two valid PNGs, and the record says so
    await expect(listImageFiles(dir)).rejects.toThrow(
      /run: an interrupted sample run \(flowturbo-samples.json says incomplete: 4 images were to be written\)/,
    );
    await w.append(imgs.sliceRows(2, 4), [8, 8]);
    await w.close();
    expect((await listImageFiles(dir)).map((p) => p.slice(dir.length + 1))).toEqual([
      "000000_7.png",
      "000001_7.png",
      "000002_8.png",
      "000003_8.png",
    ]);
    // a later run of 1 image into the same folder: the stale files are not read
    await writePngFolder(imgs.sliceRows(0, 1), dir);
    expect((await listImageFiles(dir)).map((p) => p.slice(dir.length + 1))).toEqual(["000000.png"]);
    // no temporary files left behind
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("sample npz", () => {
  it("writes arr_0 uint8 NHWC and arr_1 int64 labels, readable by the npz reader", async () => {
    const imgs = batch(4, 8, 8);
    const path = join(tmp.dir, "samples.npz");
    await writeSampleNpz(path, imgs, [3, 1, 4, 1]);
    const npz = await openNpz(new Uint8Array(readFileSync(path)));
    expect(npz.names).toEqual(["arr_0", "arr_1"]);
    const a0 = await npz.read("arr_0");
    expect([a0.dtype, ...a0.shape]).toEqual(["uint8", 4, 8, 8, 3]);
    expect(Buffer.from(a0.data as Uint8Array).equals(imgs.data)).toBe(true);
    expect([...(await npz.read("arr_1")).data]).toEqual([3n, 1n, 4n, 1n]);
    // float input is quantized
    const f = Tensor.from("float32", [1, 3, 1, 1], [-1, 0, 1]);
    await writeSampleNpz(path, f);
    expect([...(await (await openNpz(new Uint8Array(readFileSync(path)))).read("arr_0")).data]).toEqual([
      0, 128, 255,
    ]);
  });

  for (const zip64 of ["auto", true] as const) {
    it(`streams batches into the same bytes as the whole-file writer (zip64 ${zip64})`, async () => {
      const imgs = batch(7, 6, 5);
      const labels = [0, 1, 2, 3, 4, 5, 6];
      const path = join(tmp.dir, `stream-${zip64}.npz`);
      const w = await openSampleNpzWriter(path, { count: 7, height: 6, width: 5, zip64 });
      await w.append(imgs.sliceRows(0, 3), labels.slice(0, 3));
      await w.append(floatToUint8Nhwc(Tensor.zeros("float32", [0, 3, 6, 5])), []);
      await w.append(imgs.sliceRows(3, 7), labels.slice(3));
      await w.close();
      const bytes = new Uint8Array(readFileSync(path));
      const whole = encodeNpz({ arr_0: imgs, arr_1: Tensor.from("int64", [7], labels) }, { zip64 });
      expect(Buffer.from(bytes).equals(whole)).toBe(true);
      const zip = await openZip(bytes);
      const a0 = await (await openNpz(bytes)).read("arr_0"); // CRC-checked
      expect(a0.shape).toEqual([7, 6, 5, 3]);
      if (zip64 === true) {
        // ZIP64 end records present
        const sig = new DataView(bytes.buffer).getUint32(bytes.length - 22 - 76, true);
        expect(sig).toBe(0x06064b50);
        expect(zip.entries).toHaveLength(2);
      }
    });
  }

  it("checks counts and shapes; an unfinished file is discarded", async () => {
    const path = join(tmp.dir, "bad.npz");
    const w = await openSampleNpzWriter(path, { count: 2, height: 4, width: 4 });
    await expect(w.append(batch(1, 5, 4), [0])).rejects.toThrow(/5x4/);
    await expect(w.append(batch(1, 4, 4))).rejects.toThrow(/labels are required/);
    await expect(w.append(batch(3, 4, 4), [0, 0, 0])).rejects.toThrow(/exceed the declared count 2/);
    await w.append(batch(1, 4, 4), [0]);
    await expect(w.close()).rejects.toThrow(/1 of 2 images written; file discarded/);
    expect((await readdir(tmp.dir)).filter((f) => f.startsWith("bad.npz"))).toEqual([]);
    const nolab = await openSampleNpzWriter(path, { count: 1, height: 4, width: 4, labels: false });
    await nolab.append(batch(1, 4, 4));
    await nolab.close();
    expect((await openNpz(new Uint8Array(readFileSync(path)))).names).toEqual(["arr_0"]);
  });
});
