// Folder datasets on real image files written by the test.
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { centerCropArr, ClassMapError, flipFor, ImageLoadError, rgbToTensor } from "../src/index";
import { decodeImageFile, fileList, flatFolder, imageFolder } from "../src/node/index";
import { tempDir, writeImage } from "./helpers";

const tmp = tempDir();
const root = join(tmp.dir, "pets");
beforeAll(async () => {
  // cat: 3 images, dog: 4 (one nested), mixed formats and sizes
  await writeImage(join(root, "cat", "c0.png"), 40, 30, "png", 0);
  await writeImage(join(root, "cat", "c1.jpg"), 24, 36, "jpeg", 1);
  await writeImage(join(root, "cat", "c2.webp"), 20, 20, "webp", 2);
  await writeImage(join(root, "dog", "d0.png"), 50, 20, "png", 3);
  await writeImage(join(root, "dog", "d1.JPEG"), 33, 33, "jpeg", 4);
  await writeImage(join(root, "dog", "sub", "d2.png"), 16, 64, "png", 5);
  await writeImage(join(root, "dog", "d3.png"), 17, 17, "png", 6);
  await writeFile(join(root, "dog", "notes.txt"), "not an image");
  await writeFile(join(root, "stray.png"), "files in the root are ignored");
});
afterAll(tmp.cleanup);

describe("imageFolder", () => {
  it("refuses a cat/dog folder for a 1000-class model without a class map", async () => {
    const err = await imageFolder(root, { numClasses: 1000, imageSize: 16 }).catch((e) => e);
    expect(err).toBeInstanceOf(ClassMapError);
    expect(err.message).toMatch(/2 class folders \('cat', 'dog'\) do not map to the model's 1000 classes/);
  });

  it("labels by folder order when acknowledged", async () => {
    const ds = await imageFolder(root, { numClasses: 1000, imageSize: 16, classMap: "folder-order" });
    expect(ds.length).toBe(7);
    expect(ds.items.map((it) => it.label)).toEqual([0, 0, 0, 1, 1, 1, 1]);
    expect(ds.items.map((it) => it.path.slice(root.length + 1))).toEqual([
      "cat/c0.png",
      "cat/c1.jpg",
      "cat/c2.webp",
      "dog/d0.png",
      "dog/d1.JPEG",
      "dog/d3.png",
      "dog/sub/d2.png",
    ]);
    expect(ds.classes?.mode).toBe("folder-order");
  });

  it("uses class-map files (JSON and text)", async () => {
    const json = join(tmp.dir, "map.json");
    await writeFile(json, JSON.stringify({ cat: 281, dog: 207 }));
    const a = await imageFolder(root, { numClasses: 1000, imageSize: 16, classMap: json });
    expect(new Set(a.items.map((it) => it.label))).toEqual(new Set([281, 207]));
    const txt = join(tmp.dir, "map.txt");
    await writeFile(txt, "cat 3\n");
    await expect(imageFolder(root, { numClasses: 10, imageSize: 16, classMap: txt })).rejects.toThrow(
      /no entry .* 'dog'/,
    );
    await expect(
      imageFolder(root, { numClasses: 10, imageSize: 16, classMap: join(tmp.dir, "nope.txt") }),
    ).rejects.toThrow(/cannot read class map/);
  });

  it("maps ImageNet synset folders automatically with 1000 classes", async () => {
    const inet = join(tmp.dir, "inet");
    await writeImage(join(inet, "n02099601", "x.png"), 20, 20);
    await writeImage(join(inet, "n01440764", "y.png"), 20, 20);
    const ds = await imageFolder(inet, { numClasses: 1000, imageSize: 16 });
    expect(ds.items.map((it) => it.label)).toEqual([0, 207]);
    expect(ds.classes?.mode).toBe("imagenet-auto");
  });

  it("follows symbolic links to class folders and files", async () => {
    const linked = join(tmp.dir, "linked");
    await mkdir(linked);
    await symlink(join(root, "cat"), join(linked, "cat"));
    await mkdir(join(linked, "dog"));
    await symlink(join(root, "dog", "d0.png"), join(linked, "dog", "d0.png"));
    await symlink(join(root, "dog", "missing.png"), join(linked, "dog", "broken.png"));
    const ds = await imageFolder(linked, { numClasses: 2, imageSize: 16, classMap: "folder-order" });
    expect(ds.items.map((it) => [it.path.slice(linked.length + 1), it.label])).toEqual([
      ["cat/c0.png", 0],
      ["cat/c1.jpg", 0],
      ["cat/c2.webp", 0],
      ["dog/d0.png", 1],
    ]);
    expect((await ds.get(3)).image.shape).toEqual([3, 16, 16]);
  });

  it("loads ADM-cropped CHW tensors equal to decode + centerCropArr", async () => {
    const ds = await imageFolder(root, { numClasses: 2, imageSize: 16, classMap: "folder-order" });
    const s = await ds.get(3);
    const ref = rgbToTensor(centerCropArr(await decodeImageFile(ds.items[3].path), 16));
    expect(s.image.shape).toEqual([3, 16, 16]);
    expect(s.image.data).toEqual(ref.data);
    expect(s.label).toBe(1);
  });
});

describe("batches", () => {
  it("are deterministic by (seed, epoch), cover the data, flip by flipFor", async () => {
    const ds = await imageFolder(root, { numClasses: 2, imageSize: 16, classMap: "folder-order" });
    const collect = async (seed: number, epoch: number) => {
      const out: { idx: number[]; flips: number[]; labels: bigint[]; shapes: number[][] } = {
        idx: [],
        flips: [],
        labels: [],
        shapes: [],
      };
      for await (const b of ds.batches({ batchSize: 3, seed, epoch, randomFlip: true })) {
        out.idx.push(...b.indices);
        out.flips.push(...b.flipped);
        out.labels.push(...(b.labels.data as BigInt64Array));
        out.shapes.push([...b.images.shape]);
      }
      return out;
    };
    const a = await collect(1, 0);
    expect(a.shapes).toEqual([
      [3, 3, 16, 16],
      [3, 3, 16, 16],
      [1, 3, 16, 16],
    ]);
    expect([...a.idx].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(a.flips).toEqual(a.idx.map((i) => (flipFor(1, 0, i) ? 1 : 0)));
    expect(a.labels).toEqual(a.idx.map((i) => BigInt(ds.items[i].label)));
    expect(await collect(1, 0)).toEqual(a);
    expect((await collect(1, 1)).idx).not.toEqual(a.idx);
  });

  it("flipped images are the mirror of the unflipped ones", async () => {
    const ds = await imageFolder(root, { numClasses: 2, imageSize: 16, classMap: "folder-order" });
    const plain = await ds.get(0);
    const mirrored = await ds.get(0, true);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++)
          expect(mirrored.image.data[(c * 16 + y) * 16 + x]).toBe(
            plain.image.data[(c * 16 + y) * 16 + 15 - x],
          );
  });

  it("shards are disjoint and cover the dataset", async () => {
    const ds = await imageFolder(root, { numClasses: 2, imageSize: 16, classMap: "folder-order" });
    const seen: number[] = [];
    for (let index = 0; index < 2; index++) {
      for await (const b of ds.batches({
        batchSize: 8,
        seed: 3,
        shard: { index, count: 2, remainder: "none" },
      }))
        seen.push(...b.indices);
    }
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

describe("corrupt images", () => {
  const bad = join(tmp.dir, "bad");
  beforeAll(async () => {
    await writeImage(join(bad, "a.png"), 20, 20);
    await writeFile(join(bad, "b.jpg"), "this is not a JPEG");
    await writeImage(join(bad, "c.png"), 20, 20);
  });

  it("stop the run with the path (default)", async () => {
    const ds = await flatFolder(bad, { imageSize: 16 });
    const run = async () => {
      for await (const _ of ds.batches({ batchSize: 2, shuffle: false })) void _;
    };
    const err = await run().catch((e) => e);
    expect(err).toBeInstanceOf(ImageLoadError);
    expect(err.path).toBe(join(bad, "b.jpg"));
    expect(err.message).toContain(join(bad, "b.jpg"));
  });

  it("are reported and skipped with onError 'skip'", async () => {
    const reported: string[] = [];
    const ds = await flatFolder(bad, {
      imageSize: 16,
      onError: "skip",
      onSkip: (e) => reported.push(e.path),
    });
    const batches = [];
    for await (const b of ds.batches({ batchSize: 2, shuffle: false })) batches.push(b);
    expect(batches).toHaveLength(1);
    expect(batches[0].paths).toEqual([join(bad, "a.png"), join(bad, "c.png")]);
    expect(reported).toEqual([join(bad, "b.jpg")]);
    expect([...ds.skipped.keys()]).toEqual([join(bad, "b.jpg")]);
  });
});

describe("flatFolder and fileList", () => {
  it("flat folders: unlabelled, one label, or ADM file-name prefixes", async () => {
    const flat = join(tmp.dir, "flat");
    await writeImage(join(flat, "cat_1.png"), 20, 20);
    await writeImage(join(flat, "dog_1.png"), 20, 20);
    await writeImage(join(flat, "deep", "cat_2.png"), 20, 20);
    expect((await flatFolder(flat, { imageSize: 16 })).items.map((i) => i.label)).toEqual([-1, -1, -1]);
    expect(
      (await flatFolder(flat, { imageSize: 16, label: 5, numClasses: 10 })).items.map((i) => i.label),
    ).toEqual([5, 5, 5]);
    await expect(
      flatFolder(flat, { imageSize: 16, label: "filename-prefix", numClasses: 1000 }),
    ).rejects.toThrow(/file-name class prefixes \('cat', 'dog'\)/);
    const ds = await flatFolder(flat, {
      imageSize: 16,
      label: "filename-prefix",
      numClasses: 2,
      classMap: "folder-order",
    });
    expect(ds.items.map((i) => [i.path.slice(flat.length + 1), i.label])).toEqual([
      ["cat_1.png", 0],
      ["deep/cat_2.png", 0],
      ["dog_1.png", 1],
    ]);
  });

  it("file lists: paths relative to the list, integer ids or mapped names", async () => {
    const list = join(root, "list.txt");
    await writeFile(list, "# pets\ncat/c0.png 281\ndog/d0.png 207\n");
    const ds = await fileList(list, { imageSize: 16, numClasses: 1000 });
    expect(ds.items).toEqual([
      { path: join(root, "cat/c0.png"), label: 281 },
      { path: join(root, "dog/d0.png"), label: 207 },
    ]);
    expect((await ds.get(1)).image.shape).toEqual([3, 16, 16]);
    await expect(fileList(list, { imageSize: 16, numClasses: 100 })).rejects.toThrow(
      /label 281 .* 100-class/,
    );
    await writeFile(list, "cat/c0.png cat\ndog/d0.png dog\n");
    await expect(fileList(list, { imageSize: 16, numClasses: 1000 })).rejects.toThrow(ClassMapError);
    const named = await fileList(list, { imageSize: 16, numClasses: 1000, classMap: { cat: 281, dog: 207 } });
    expect(named.items.map((i) => i.label)).toEqual([281, 207]);
    const unl = await fileList(["cat/c0.png", "dog/d0.png"], { imageSize: 16, root });
    expect(unl.items.map((i) => i.label)).toEqual([-1, -1]);
  });
});
