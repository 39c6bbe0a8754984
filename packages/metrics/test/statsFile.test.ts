import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ByteSource, concatBytes, encodeNpz, openNpz, Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import {
  featureStats,
  inspectNpz,
  readStatsNpz,
  sampleArrayInfo,
  sampleNpzBatches,
  type StatsFile,
  statsNpzChunks,
} from "../src";
import { FIXTURES, loadCase } from "./golden";

/** A ByteSource over bytes that records every byte range read. */
function recording(bytes: Uint8Array, name: string): ByteSource & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    size: bytes.length,
    name,
    reads,
    read: async (offset, length) => {
      reads.push([offset, offset + length]);
      return bytes.subarray(offset, offset + length);
    },
  };
}

interface Member {
  member: string;
  local_header_offset: number;
  data_offset: number;
  compress_size: number;
}

describe("golden adm_npz: ADM reference-batch layout (np.savez and np.savez_compressed)", async () => {
  const { tensors, meta } = await loadCase("metrics/adm_npz");
  const members = meta.zip_members as Record<string, Member[]>;

  test.each(["adm_npz.npz", "adm_npz_compressed.npz"])(
    "%s: mu/sigma/mu_s/sigma_s read without touching arr_0",
    async (file) => {
      const bytes = new Uint8Array(await readFile(join(FIXTURES, "metrics/adm_npz", file)));
      const src = recording(bytes, file);
      const stats = await readStatsNpz(src);
      expect(Array.from(stats.pool.mu)).toEqual(Array.from(tensors.get("mu")!.toFloat64()));
      expect(Array.from(stats.pool.sigma)).toEqual(Array.from(tensors.get("sigma")!.toFloat64()));
      expect(Array.from(stats.spatial!.mu)).toEqual(Array.from(tensors.get("mu_s")!.toFloat64()));
      expect(Array.from(stats.spatial!.sigma)).toEqual(Array.from(tensors.get("sigma_s")!.toFloat64()));
      expect(stats.pool.dim).toBe(128);
      expect(stats.spatial!.dim).toBe(112);
      expect(stats.pool.n).toBeUndefined();
      expect(stats.meta).toBeUndefined();
      // arr_0's local header and data are never read
      const arr0 = members[file].find((m) => m.member === "arr_0.npy")!;
      const arr0Range: [number, number] = [arr0.local_header_offset, arr0.data_offset + arr0.compress_size];
      const touched = src.reads.filter(([a, b]) => a < arr0Range[1] && b > arr0Range[0]);
      expect(touched).toEqual([]);
      const total = src.reads.reduce((s, [a, b]) => s + (b - a), 0);
      expect(total).toBeLessThan(bytes.length - arr0.compress_size);
    },
  );

  test("inspectNpz: a reference batch has statistics and images; reading arr_0's header only", async () => {
    const bytes = new Uint8Array(await readFile(join(FIXTURES, "metrics/adm_npz/adm_npz.npz")));
    const src = recording(bytes, "adm_npz.npz");
    const kind = await inspectNpz(src);
    expect(kind.kind).toBe("reference");
    expect(kind.images).toEqual({ name: "arr_0", count: 6, height: 16, width: 16 });
    const arr0 = members["adm_npz.npz"][0];
    const inData = src.reads.filter(
      ([a, b]) => a < arr0.data_offset + arr0.compress_size && b > arr0.data_offset + 128,
    );
    expect(inData).toEqual([]); // header (128 bytes) only
  });

  test.each(["adm_npz.npz", "adm_npz_compressed.npz"])("%s: arr_0 images stream in batches", async (file) => {
    const bytes = new Uint8Array(await readFile(join(FIXTURES, "metrics/adm_npz", file)));
    const npz = await openNpz(bytes, { name: file });
    const all: number[] = [];
    const counts: number[] = [];
    for await (const b of sampleNpzBatches(npz, { batchSize: 4 })) {
      expect(b.kind).toBe("uint8");
      counts.push(b.count);
      all.push(...b.data);
    }
    expect(counts).toEqual([4, 2]);
    expect(all).toEqual(Array.from(tensors.get("arr_0")!.data as Uint8Array));
  });
});

describe("our stats files", () => {
  const rows = Float64Array.from({ length: 40 * 5 }, (_, i) => Math.sin(i * 0.7) + (i % 5));
  const pool = featureStats(rows, 5);
  const spatial = featureStats(rows.subarray(0, 40 * 4), 4);
  const file: StatsFile = {
    pool,
    spatial,
    meta: {
      format: "flowturbo-fid-stats",
      version: 1,
      n: 40,
      convention: { network: "pt_inception-2015-12-05", input: "uint8", preprocess: "pytorch-fid" },
      source: "images/",
    },
  };

  test("round trip: mu, sigma, mu_s, sigma_s, n and the description", async () => {
    const bytes = concatBytes(statsNpzChunks(file));
    const back = await readStatsNpz(bytes, { name: "stats.npz" });
    expect(Array.from(back.pool.mu)).toEqual(Array.from(pool.mu));
    expect(Array.from(back.pool.sigma)).toEqual(Array.from(pool.sigma));
    expect(Array.from(back.spatial!.sigma)).toEqual(Array.from(spatial.sigma));
    expect(back.pool.n).toBe(40);
    expect(back.meta).toEqual(file.meta);
    const npz = await openNpz(bytes);
    expect(npz.names).toEqual(["mu", "sigma", "mu_s", "sigma_s", "n", "flowturbo_meta"]);
    expect((await npz.read("n")).dtype).toBe("int64");
    expect((await inspectNpz(bytes)).kind).toBe("stats");
  });

  test("errors name the file and what is missing", async () => {
    const samples = encodeNpz({ arr_0: Tensor.zeros("uint8", [2, 4, 4, 3]) });
    await expect(readStatsNpz(samples, { name: "samples.npz" })).rejects.toThrow(
      /samples\.npz: no FID statistics .*arr_0.*sample batch/,
    );
    expect((await inspectNpz(samples)).kind).toBe("samples");
    const wrong = encodeNpz({ arr_0: Tensor.zeros("float32", [2, 4, 4, 3]) });
    await expect(sampleArrayInfo(await openNpz(wrong, { name: "w.npz" }))).rejects.toThrow(
      /w\.npz: 'arr_0' is float32\[2, 4, 4, 3\]; expected uint8 images/,
    );
    const bad = encodeNpz({ mu: Tensor.zeros("float64", [3]), sigma: Tensor.zeros("float64", [3, 2]) });
    await expect(readStatsNpz(bad, { name: "bad.npz" })).rejects.toThrow(
      /bad\.npz: 'sigma' has shape \[3, 2\], expected \[3, 3\]/,
    );
    await expect(
      inspectNpz(encodeNpz({ x: Tensor.zeros("float64", [3]) }), { name: "x.npz" }),
    ).rejects.toThrow(/x\.npz: neither FID statistics/);
  });
});
