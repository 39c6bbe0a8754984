// Benchmark of @flowturbo/metrics (pnpm bench):
// 1. writes a synthetic ~1 GB ADM-style reference npz (arr_0 uint8 [5462, 256, 256, 3] streamed from one
//    reused 64 MB chunk + float64 mu/sigma 2048 and mu_s/sigma_s 2023) with the tensor package's zip /
//    npy writers to a file sink, then reads mu/sigma(+_s) in a child process and reports its peak RSS
//    (process.resourceUsage().maxRSS), next to a baseline child that only loads the modules;
// 2. times FID on 2048-d statistics (and sFID on 2023-d), the symmetric eigensolver and the pivoted
//    Cholesky at 2048, and the statistics accumulation. `--full` adds the "eigh" route at 2048.
// Prints figures and a final JSON line.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { npyHeaderBytes, Tensor, tensorBytes, zipChunks } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import {
  frechetDistanceDetailed,
  type GaussianStats,
  pivotedCholesky,
  StatsAccumulator,
  symmetricEigen,
  symmetricEigenvalues,
} from "../src";

const here = dirname(fileURLToPath(import.meta.url));
const full = process.argv.includes("--full");
const results: Record<string, number | string | boolean> = {};

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A dense full-rank covariance diag(d) + U U^T (U: dim x 64), cheap to build at 2048-d. */
function syntheticStats(dim: number, seed: number): GaussianStats {
  const r = rng(seed);
  const k = 64;
  const u = Float64Array.from({ length: dim * k }, () => (r() - 0.5) * 0.3);
  const sigma = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += u[i * k + p] * u[j * k + p];
      sigma[i * dim + j] = s;
      sigma[j * dim + i] = s;
    }
    sigma[i * dim + i] += 0.01 + 0.2 * r();
  }
  const mu = Float64Array.from({ length: dim }, () => r());
  return { dim, mu, sigma, n: 50_000 };
}

/** Wall-clock seconds (and this process's CPU seconds, which other load on the machine does not inflate). */
const cpu: Record<string, number> = {};
const time = <T>(f: () => T, label?: string): [T, number] => {
  const t = performance.now();
  const c = process.cpuUsage();
  const v = f();
  const used = process.cpuUsage(c);
  if (label) cpu[label] = (used.user + used.system) / 1e6;
  return [v, (performance.now() - t) / 1000];
};
const cpuNote = (label: string) => ` (CPU ${cpu[label].toFixed(2)} s)`;

function child(args: string[]): Record<string, number> {
  const out = execFileSync(
    process.execPath,
    ["--conditions=@flowturbo/source", "--import", "tsx", join(here, "readStats.ts"), ...args],
    { encoding: "utf8" },
  );
  return JSON.parse(out.trim().split("\n").pop()!);
}

async function npzBenchmark(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "metrics-bench-"));
  try {
    const path = join(dir, "VIRTUAL_synthetic_ref.npz");
    const count = 5462;
    const per = 256 * 256 * 3;
    const total = count * per;
    const chunk = new Uint8Array(64 << 20);
    const r = rng(1);
    for (let i = 0; i < chunk.length; i += 4) {
      const v = (r() * 4294967296) >>> 0;
      chunk[i] = v;
      chunk[i + 1] = v >>> 8;
      chunk[i + 2] = v >>> 16;
      chunk[i + 3] = v >>> 24;
    }
    const parts: Uint8Array[] = [npyHeaderBytes("uint8", [count, 256, 256, 3])];
    for (let o = 0; o < total; o += chunk.length)
      parts.push(chunk.subarray(0, Math.min(chunk.length, total - o)));
    const pool = syntheticStats(2048, 2);
    const spatial = syntheticStats(2023, 3);
    const npy = (t: Tensor) => [npyHeaderBytes(t.dtype, t.shape), tensorBytes(t)];
    const entries = [
      { name: "arr_0.npy", data: parts },
      { name: "mu.npy", data: npy(new Tensor("float64", [2048], pool.mu)) },
      { name: "sigma.npy", data: npy(new Tensor("float64", [2048, 2048], pool.sigma)) },
      { name: "mu_s.npy", data: npy(new Tensor("float64", [2023], spatial.mu)) },
      { name: "sigma_s.npy", data: npy(new Tensor("float64", [2023, 2023], spatial.sigma)) },
    ];
    const [, writeSeconds] = await (async () => {
      const t = performance.now();
      const n = await writeFileStreaming(path, zipChunks(entries));
      return [n, (performance.now() - t) / 1000] as const;
    })();
    const size = (await stat(path)).size;
    console.log(
      `synthetic reference npz: ${(size / 1e9).toFixed(3)} GB (arr_0 ${(total / 1e9).toFixed(3)} GB) written in ${writeSeconds.toFixed(1)} s`,
    );
    const base = child([path, "--baseline"]);
    const read = child([path]);
    let trace = 0;
    for (let i = 0; i < 2048; i++) trace += pool.sigma[i * 2048 + i];
    if (Math.abs(read.traceSigma - trace) > 1e-9 * trace || read.dim !== 2048 || read.dimSpatial !== 2023) {
      throw new Error(`read back wrong statistics: ${JSON.stringify(read)}`);
    }
    console.log(
      `read mu/sigma + mu_s/sigma_s in a child: peak RSS ${read.maxRssMB.toFixed(1)} MB (baseline child, modules only: ${base.maxRssMB.toFixed(1)} MB), ${read.seconds.toFixed(2)} s`,
    );
    Object.assign(results, {
      npz_bytes: size,
      npz_write_s: writeSeconds,
      read_stats_peak_rss_mb: read.maxRssMB,
      baseline_child_peak_rss_mb: base.maxRssMB,
      read_stats_s: read.seconds,
      read_stats_under_200mb: read.maxRssMB < 200,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function linalgBenchmark(): void {
  const a = syntheticStats(2048, 4);
  const b = syntheticStats(2048, 5);
  const [fid, fidSeconds] = time(() => frechetDistanceDetailed(a, b), "fid");
  console.log(
    `FID 2048-d (pivoted Cholesky + tridiagonal QL eigenvalues, float64): ${fidSeconds.toFixed(2)} s${cpuNote("fid")}, FID = ${fid.value.toFixed(6)}`,
  );
  const sa = syntheticStats(2023, 6);
  const sb = syntheticStats(2023, 7);
  const [sfid, sfidSeconds] = time(() => frechetDistanceDetailed(sa, sb), "sfid");
  console.log(`sFID 2023-d: ${sfidSeconds.toFixed(2)} s${cpuNote("sfid")}, sFID = ${sfid.value.toFixed(6)}`);
  const [, eigSeconds] = time(() => symmetricEigenvalues(a.sigma, 2048), "eig");
  console.log(
    `eigenvalues of a 2048x2048 symmetric matrix (tred2 + tql, no vectors): ${eigSeconds.toFixed(2)} s${cpuNote("eig")}`,
  );
  const [, cholSeconds] = time(() => pivotedCholesky(a.sigma, 2048), "chol");
  console.log(`pivoted Cholesky 2048: ${cholSeconds.toFixed(2)} s${cpuNote("chol")}`);
  const acc = new StatsAccumulator(2048);
  const rows = Float32Array.from({ length: 1024 * 2048 }, (_, i) => (i % 97) / 97);
  const [, accSeconds] = time(() => acc.add(rows, 1024), "acc");
  console.log(
    `statistics accumulation, 2048-d: ${(1024 / accSeconds).toFixed(0)} feature vectors/s${cpuNote("acc")} for 1024`,
  );
  Object.assign(results, {
    fid_2048_s: fidSeconds,
    sfid_2023_s: sfidSeconds,
    eigenvalues_2048_s: eigSeconds,
    pivoted_cholesky_2048_s: cholSeconds,
    stats_rows_per_s: 1024 / accSeconds,
    fid_2048_cpu_s: cpu.fid,
    sfid_2023_cpu_s: cpu.sfid,
  });
  if (full) {
    const [, vecSeconds] = time(() => symmetricEigen(a.sigma, 2048, { vectors: true }), "vec");
    console.log(
      `eigen-decomposition with vectors 2048 (tred2 + tql2): ${vecSeconds.toFixed(2)} s${cpuNote("vec")}`,
    );
    const [eigh, eighSeconds] = time(() => frechetDistanceDetailed(a, b, { method: "eigh" }), "eigh");
    console.log(
      `FID 2048-d by the "eigh" route: ${eighSeconds.toFixed(2)} s${cpuNote("eigh")}, FID = ${eigh.value.toFixed(6)} (relative difference ${(Math.abs(eigh.value - fid.value) / fid.value).toExponential(2)})`,
    );
    Object.assign(results, { eigen_vectors_2048_s: vecSeconds, fid_2048_eigh_s: eighSeconds });
  }
}

await npzBenchmark();
linalgBenchmark();
console.log(JSON.stringify({ bench: "@flowturbo/metrics", node: process.version, ...results }));
