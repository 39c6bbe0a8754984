import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { Tensor } from "@flowturbo/tensor";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { frechetDistance, InceptionExtractor, type RgbImage } from "../src";
import {
  evalAdm,
  evalFid,
  fidReportJson,
  formatFidReport,
  inspectEvalInput,
  loadInceptionStateDict,
  readStatsFile,
  writeStatsFile,
  writeStatsForInput,
} from "../src/node";
import { FIXTURES, inceptionProceduralWeights, loadCase, relMaxError } from "./golden";
import { writeTorchStateDict } from "./torchFile";

const node = createNodeBackend({ worker: false });
let dir: string;
let weights: Map<string, Tensor>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "metrics-test-"));
  weights = await inceptionProceduralWeights();
});
afterAll(async () => {
  await node.close();
  await rm(dir, { recursive: true, force: true });
});

describe("Inception weights from a .pth (torch zip, restricted unpickler)", () => {
  test("a pt_inception-shaped checkpoint with num_batches_tracked loads and reproduces the golden pool3", async () => {
    const sd = new Map<string, Tensor>();
    for (const [k, t] of weights) {
      sd.set(k, t);
      if (k.endsWith(".bn.running_var"))
        sd.set(k.replace("running_var", "num_batches_tracked"), Tensor.from("int64", [], [0]));
    }
    expect(sd.size).toBe(566);
    const path = join(dir, "pt_inception-2015-12-05-6726825d.pth");
    await writeTorchStateDict(path, sd, "pt_inception-2015-12-05-6726825d");
    const loaded = await loadInceptionStateDict(path);
    expect(loaded.size).toBe(566);
    const { tensors } = await loadCase("inception/inception_fid");
    const ex = new InceptionExtractor(node, loaded, { batchSize: 2 });
    const f = await ex.extract({
      kind: "float",
      data: tensors.get("x")!.data as Float32Array,
      count: 2,
      height: 64,
      width: 64,
    });
    await ex.release();
    expect(relMaxError(f.pool3, tensors.get("pool3")!.toFloat64())).toBeLessThan(1e-4);
    expect(relMaxError(f.spatial, tensors.get("sfid_spatial")!.toFloat64())).toBeLessThan(1e-4);
    await rm(path);
  });
});

describe("eval fid / eval stats as library calls", () => {
  test("inputs: folder, stats file, reference batch, sample batch; helpful errors", async () => {
    const ref = join(FIXTURES, "metrics/adm_npz/adm_npz.npz");
    expect(await inspectEvalInput(ref)).toEqual({
      path: ref,
      kind: "reference",
      images: { name: "arr_0", count: 6, height: 16, width: 16 },
    });
    expect((await inspectEvalInput(dir)).kind).toBe("folder");
    await expect(inspectEvalInput(join(dir, "nope.npz"))).rejects.toThrow(
      /nope\.npz: no such file or folder/,
    );
    const txt = join(dir, "a.txt");
    await writeFile(txt, "x");
    await expect(inspectEvalInput(txt)).rejects.toThrow(/expected a folder of images, a sample \.npz/);
    await expect(evalFid(ref, dir)).rejects.toThrow(/needs the FID Inception/);
    const ex = new InceptionExtractor(node, weights, { batchSize: 4 });
    await expect(evalFid(ref, dir, { extractor: ex })).rejects.toThrow(
      /needs an image reader \(options.imageFolder/,
    );
    await ex.release();
  });

  test("reference batch vs a written stats file: mu/sigma read, FID as frechetDistance, table and JSON", async () => {
    const ref = join(FIXTURES, "metrics/adm_npz/adm_npz_compressed.npz");
    const refStats = await readStatsFile(ref);
    const shifted = {
      pool: { ...refStats.pool, mu: refStats.pool.mu.map((v) => v + 0.01), n: 100 },
      spatial: refStats.spatial,
    };
    const path = join(dir, "shifted.npz");
    await writeStatsFile(path, shifted);
    const report = await evalFid(ref, path);
    expect(report.fid).toBeCloseTo(128 * 0.01 ** 2, 9);
    expect(report.fid).toBeCloseTo(frechetDistance(refStats.pool, shifted.pool), 12);
    expect(report.sfid).toBeCloseTo(0, 9);
    expect(report.a.kind).toBe("reference");
    expect(report.b).toMatchObject({ kind: "stats", n: 100 });
    expect(report.notes.join("\n")).toMatch(/100 images \(< 2048\)/);
    const table = formatFidReport(report);
    expect(table).toMatch(/^A {4}.*adm_npz_compressed\.npz \(reference\)/m);
    expect(table).toMatch(/^FID {3}0\.0128$/m);
    const json = JSON.parse(JSON.stringify(fidReportJson(report)));
    expect(json.fid).toBeCloseTo(0.0128, 9);
    expect(json.terms.fid.dim).toBe(128);
    expect(json.terms.sfid.dim).toBe(112);
  });

  test("sample npz and a folder of the same images: FID ~ 0; eval stats writes a stats file", async () => {
    const { tensors } = await loadCase("metrics/adm_npz");
    const arr = tensors.get("arr_0")!.data as Uint8Array;
    const images: RgbImage[] = Array.from({ length: 6 }, (_, i) => ({
      data: arr.subarray(i * 768, (i + 1) * 768),
      height: 16,
      width: 16,
      name: `${i}.png`,
    }));
    const samples = join(dir, "samples.npz");
    await copyFile(join(FIXTURES, "metrics/adm_npz/adm_npz.npz"), samples); // arr_0 plus stats: a reference batch
    const imageFolder = (_folder: string) => images;
    const ex = new InceptionExtractor(node, weights, { batchSize: 4 });
    const progress: number[] = [];
    const out = join(dir, "folder_stats.npz");
    const written = await writeStatsForInput(dir, out, {
      extractor: ex,
      imageFolder,
      onProgress: (_p, done) => progress.push(done),
    });
    expect(progress).toEqual([4, 6]);
    expect(written.meta).toMatchObject({
      n: 6,
      convention: { network: "pt_inception-2015-12-05", input: "uint8", preprocess: "pytorch-fid" },
      inceptionScore: { splits: 1, splitSize: 5000 },
    });
    const back = await readStatsFile(out);
    expect(back.pool.dim).toBe(2048);
    expect(back.spatial!.dim).toBe(2023);
    // a sample-only npz (arr_0) goes through the extractor
    const sampleOnly = join(dir, "sample_only.npz");
    const { saveNpzFile } = await import("@flowturbo/tensor/node");
    await saveNpzFile(sampleOnly, { arr_0: new Tensor("uint8", [6, 16, 16, 3], arr) });
    const report = await evalFid(sampleOnly, out, { extractor: ex });
    expect(report.a.kind).toBe("samples");
    expect(report.inceptionScore.a).toBeGreaterThan(1);
    expect(Math.abs(report.fid)).toBeLessThan(1e-6 * report.details.fid.traceSigma1);
    expect(Math.abs(report.sfid!)).toBeLessThan(1e-6 * report.details.sfid!.traceSigma1);
    await ex.release();
  });

  test("evalAdm: IS, FID, sFID, precision and recall like ADM's evaluator", async () => {
    const { tensors } = await loadCase("metrics/adm_npz");
    const arr = tensors.get("arr_0")!.data as Uint8Array;
    const { saveNpzFile } = await import("@flowturbo/tensor/node");
    const a = join(dir, "adm_a.npz");
    const b = join(dir, "adm_b.npz");
    await saveNpzFile(a, { arr_0: new Tensor("uint8", [6, 16, 16, 3], arr) });
    const flipped = arr.map((v) => 255 - v);
    await saveNpzFile(b, { arr_0: new Tensor("uint8", [6, 16, 16, 3], flipped) });
    const ex = new InceptionExtractor(node, weights, { batchSize: 6 });
    const same = await evalAdm(a, a, { extractor: ex });
    expect([same.precision, same.recall]).toEqual([1, 1]);
    expect(Math.abs(same.fid)).toBeLessThan(1e-9);
    expect(same.statsSource).toEqual({ ref: "images", sample: "images" });
    expect(same.nRef).toBe(6);
    const diff = await evalAdm(a, b, { extractor: ex });
    expect(diff.fid).toBeGreaterThan(0);
    expect(diff.sfid).toBeGreaterThan(0);
    expect(diff.inceptionScore).toBeGreaterThanOrEqual(1);
    // a reference batch's own mu/sigma are used (ADM's read_statistics): the fixture's are 128-d
    await expect(
      evalAdm(join(FIXTURES, "metrics/adm_npz/adm_npz.npz"), a, { extractor: ex }),
    ).rejects.toThrow(/different dimensions: 2048 and 128/);
    await ex.release();
  });
});
