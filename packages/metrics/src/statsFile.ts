// Statistics files. Reading: ADM reference batches (VIRTUAL_imagenet256_labeled.npz: arr_0 images +
// mu, sigma, mu_s, sigma_s) and our own stats files, taking only the statistics members out of the
// archive (arr_0 is never read). Writing: a small npz with the same keys (so ADM's evaluator can read
// it too) plus n and a JSON description. Moments files: the raw float64 sums of one shard's features
// (n, sum, sum of outer products), merged across shards into a stats file.
import {
  type NpzFile,
  npzChunks,
  openNpz,
  type SourceLike,
  Tensor,
  TensorFileError,
} from "@flowturbo/tensor";
import type { FeatureConvention, FeatureSummary } from "./features";
import { type SampleArrayInfo, sampleArrayInfo } from "./images";
import { MOMENTS_FORMAT, type MomentsFile, type MomentsMeta, mergeMoments, momentsStats } from "./moments";
import type { FeatureMoments, GaussianStats } from "./stats";

export const STATS_FORMAT = "flowturbo-fid-stats";

/** The JSON stored as uint8 bytes in the `flowturbo_meta` member of our stats files. */
export interface StatsMeta {
  format: typeof STATS_FORMAT;
  version: 1;
  /** Number of images the statistics were computed from. */
  n: number;
  convention: FeatureConvention;
  /** Inception Score of the same images (ADM convention), when computed. */
  inceptionScore?: { mean: number; std: number; splits: number; splitSize: number };
  /** What the images were (a folder or file name), for humans. */
  source?: string;
}

/** FID statistics as read from or written to an npz. */
export interface StatsFile {
  /** pool3 statistics (keys mu, sigma). */
  pool: GaussianStats;
  /** sFID statistics (keys mu_s, sigma_s), when present. */
  spatial?: GaussianStats;
  /** Our own files only. */
  meta?: StatsMeta;
}

/** What an npz holds. */
export interface NpzKind {
  /**
   * "stats": mu/sigma only (our stats files); "reference": mu/sigma and images (ADM reference batches);
   * "samples": images only (an ADM sample batch: arr_0 uint8 NHWC).
   */
  kind: "stats" | "reference" | "samples";
  names: string[];
  images?: SampleArrayInfo;
}

async function asNpz(input: SourceLike | NpzFile, name?: string): Promise<NpzFile> {
  return "zip" in input && "read" in input && "names" in input
    ? (input as NpzFile)
    : openNpz(input as SourceLike, { name });
}

/** Classifies an npz by its member names (reads the directory and at most the image array's header). */
export async function inspectNpz(
  input: SourceLike | NpzFile,
  options: { name?: string } = {},
): Promise<NpzKind> {
  const npz = await asNpz(input, options.name);
  const names = npz.names;
  const hasStats = npz.has("mu") && npz.has("sigma");
  const images = npz.has("arr_0") ? await sampleArrayInfo(npz, "arr_0") : undefined;
  if (!hasStats && !images) {
    throw new TensorFileError(
      npz.name,
      `neither FID statistics (mu, sigma) nor images (arr_0) (arrays: ${names.join(", ") || "none"})`,
    );
  }
  return { kind: hasStats ? (images ? "reference" : "stats") : "samples", names, images };
}

/** float64 values of a tensor without a copy when it already is float64. */
function float64Of(t: Tensor): Float64Array {
  return t.dtype === "float64" ? (t.data as Float64Array) : t.toFloat64();
}

async function readVector(npz: NpzFile, key: string): Promise<Float64Array> {
  const t = await npz.read(key);
  if (t.rank !== 1)
    throw new TensorFileError(npz.name, `'${key}' has shape [${t.shape.join(", ")}], expected a vector`);
  return float64Of(t);
}

async function readGaussian(
  npz: NpzFile,
  muKey: string,
  sigmaKey: string,
  n?: number,
): Promise<GaussianStats> {
  const mu = await readVector(npz, muKey);
  const s = await npz.read(sigmaKey);
  const d = mu.length;
  if (s.rank !== 2 || s.shape[0] !== d || s.shape[1] !== d) {
    throw new TensorFileError(
      npz.name,
      `'${sigmaKey}' has shape [${s.shape.join(", ")}], expected [${d}, ${d}] to match '${muKey}'`,
    );
  }
  return { dim: d, mu, sigma: float64Of(s), n };
}

/**
 * Reads mu/sigma (and mu_s/sigma_s when present) out of an ADM reference batch or one of our stats
 * files. Only those members (and n / flowturbo_meta) are read: a 2 GB reference batch costs a few MB
 * of reads. Values are returned in float64 whatever their stored dtype (ADM's may be float32).
 */
export async function readStatsNpz(
  input: SourceLike | NpzFile,
  options: { name?: string } = {},
): Promise<StatsFile> {
  const npz = await asNpz(input, options.name);
  if (!npz.has("mu") || !npz.has("sigma")) {
    throw new TensorFileError(
      npz.name,
      `no FID statistics (needs 'mu' and 'sigma'; arrays: ${npz.names.join(", ") || "none"})${npz.has("arr_0") ? ": this is a sample batch, compute its statistics first" : ""}`,
    );
  }
  let meta: StatsMeta | undefined;
  if (npz.has("flowturbo_meta")) {
    const bytes = (await npz.read("flowturbo_meta")).data as Uint8Array;
    try {
      meta = JSON.parse(new TextDecoder().decode(bytes)) as StatsMeta;
    } catch {
      throw new TensorFileError(npz.name, "'flowturbo_meta' is not valid JSON");
    }
  }
  let n: number | undefined = meta?.n;
  if (npz.has("n")) n = Number((await npz.read("n")).toFloat64()[0]);
  const pool = await readGaussian(npz, "mu", "sigma", n);
  const hasSpatial = npz.has("mu_s") && npz.has("sigma_s");
  const spatial = hasSpatial ? await readGaussian(npz, "mu_s", "sigma_s", n) : undefined;
  return { pool, spatial, meta };
}

/** The arrays of a stats file: mu, sigma, [mu_s, sigma_s], n (int64 scalar), flowturbo_meta (uint8 JSON). */
export function statsNpzArrays(stats: StatsFile): Map<string, Tensor> {
  const arrays = new Map<string, Tensor>();
  const g = (s: GaussianStats, mu: string, sigma: string) => {
    arrays.set(mu, new Tensor("float64", [s.dim], s.mu));
    arrays.set(sigma, new Tensor("float64", [s.dim, s.dim], s.sigma));
  };
  g(stats.pool, "mu", "sigma");
  if (stats.spatial) g(stats.spatial, "mu_s", "sigma_s");
  const n = stats.meta?.n ?? stats.pool.n;
  if (n !== undefined) arrays.set("n", Tensor.from("int64", [], [n]));
  if (stats.meta) {
    const bytes = new TextEncoder().encode(JSON.stringify(stats.meta));
    arrays.set("flowturbo_meta", new Tensor("uint8", [bytes.length], bytes));
  }
  return arrays;
}

/** A stats file as npz chunks (stream them to a file with writeFileStreaming, ~33 MB for pool3 + spatial). */
export function statsNpzChunks(stats: StatsFile): Generator<Uint8Array> {
  return npzChunks(statsNpzArrays(stats));
}

/** Builds a stats file (with its description) from a feature pass. */
export function statsFromSummary(summary: FeatureSummary, source?: string): StatsFile {
  return {
    pool: summary.pool,
    spatial: summary.spatial,
    meta: {
      format: STATS_FORMAT,
      version: 1,
      n: summary.n,
      convention: summary.convention,
      inceptionScore: {
        mean: summary.inceptionScore.mean,
        std: summary.inceptionScore.std,
        splits: summary.inceptionScore.scores.length,
        splitSize: summary.inceptionScore.splitSize,
      },
      source,
    },
  };
}

/**
 * The arrays of a moments file (all float64 but `n` and the JSON): n (int64 scalar), sum [d],
 * sum_outer [d (d+1) / 2] (packed upper triangle, numpy `S[np.triu_indices(d)]`), their compensation
 * terms sum_lo / sum_outer_lo (the sums are sum + sum_lo), the same with suffix _s for the spatial
 * features, flowturbo_meta (uint8 JSON).
 */
export function momentsNpzArrays(m: MomentsFile): Map<string, Tensor> {
  const arrays = new Map<string, Tensor>();
  arrays.set("n", Tensor.from("int64", [], [m.meta.n]));
  const put = (f: FeatureMoments, suffix: string) => {
    if (f.n !== m.meta.n) throw new Error(`moments${suffix}: n = ${f.n}, but the file records ${m.meta.n}`);
    arrays.set(`sum${suffix}`, new Tensor("float64", [f.dim], f.sum));
    arrays.set(`sum_outer${suffix}`, new Tensor("float64", [f.sumOuter.length], f.sumOuter));
    if (f.sumLo) arrays.set(`sum_lo${suffix}`, new Tensor("float64", [f.dim], f.sumLo));
    if (f.sumOuterLo)
      arrays.set(`sum_outer_lo${suffix}`, new Tensor("float64", [f.sumOuterLo.length], f.sumOuterLo));
  };
  put(m.pool, "");
  if (m.spatial) put(m.spatial, "_s");
  const bytes = new TextEncoder().encode(JSON.stringify(m.meta));
  arrays.set("flowturbo_meta", new Tensor("uint8", [bytes.length], bytes));
  return arrays;
}

/** A moments file as npz chunks (~16 MB each for pool3 and spatial). */
export function momentsNpzChunks(m: MomentsFile): Generator<Uint8Array> {
  return npzChunks(momentsNpzArrays(m));
}

/** Reads a moments file written by `momentsNpzChunks` (checks format, shapes and counts). */
export async function readMomentsNpz(
  input: SourceLike | NpzFile,
  options: { name?: string } = {},
): Promise<MomentsFile> {
  const npz = await asNpz(input, options.name);
  const fail = (why: string): never => {
    throw new TensorFileError(npz.name, `not a feature moments file: ${why}`);
  };
  if (!npz.has("flowturbo_meta") || !npz.has("sum") || !npz.has("sum_outer"))
    fail(`expected n, sum, sum_outer and flowturbo_meta (arrays: ${npz.names.join(", ") || "none"})`);
  let meta: MomentsMeta | undefined;
  try {
    meta = JSON.parse(
      new TextDecoder().decode((await npz.read("flowturbo_meta")).data as Uint8Array),
    ) as MomentsMeta;
  } catch {
    fail("'flowturbo_meta' is not valid JSON");
  }
  if (meta?.format !== MOMENTS_FORMAT)
    fail(`'flowturbo_meta' format is ${meta?.format}, not ${MOMENTS_FORMAT}`);
  const n = npz.has("n") ? Number((await npz.read("n")).toFloat64()[0]) : meta!.n;
  if (n !== meta!.n) fail(`n = ${n} but flowturbo_meta records ${meta!.n}`);
  const read = async (suffix: string): Promise<FeatureMoments> => {
    const sum = await readVector(npz, `sum${suffix}`);
    const sumOuter = await readVector(npz, `sum_outer${suffix}`);
    const d = sum.length;
    if (sumOuter.length !== (d * (d + 1)) / 2)
      fail(
        `'sum_outer${suffix}' has ${sumOuter.length} values, expected ${(d * (d + 1)) / 2} for ${d}-d 'sum${suffix}'`,
      );
    const lo = npz.has(`sum_lo${suffix}`) ? await readVector(npz, `sum_lo${suffix}`) : undefined;
    const outerLo = npz.has(`sum_outer_lo${suffix}`)
      ? await readVector(npz, `sum_outer_lo${suffix}`)
      : undefined;
    if (lo && lo.length !== d) fail(`'sum_lo${suffix}' has ${lo.length} values, expected ${d}`);
    if (outerLo && outerLo.length !== sumOuter.length)
      fail(`'sum_outer_lo${suffix}' has ${outerLo.length} values, expected ${sumOuter.length}`);
    return { dim: d, n, sum, sumOuter, sumLo: lo, sumOuterLo: outerLo };
  };
  const pool = await read("");
  const spatial = npz.has("sum_s") ? await read("_s") : undefined;
  return { pool, spatial, meta: meta! };
}

/**
 * Adds the moments of the parts of one image set (in the order given: sort shards by their range for
 * results that do not depend on completion order). All parts must share one feature convention.
 */
export function mergeMomentsFiles(parts: readonly MomentsFile[], source?: string): MomentsFile {
  if (parts.length === 0) throw new Error("mergeMomentsFiles: no parts");
  const convention = JSON.stringify(parts[0].meta.convention);
  for (const p of parts) {
    if (JSON.stringify(p.meta.convention) !== convention) {
      throw new Error(
        `moments of different feature conventions cannot be merged: ${convention} and ${JSON.stringify(p.meta.convention)}`,
      );
    }
    if (!p.spatial !== !parts[0].spatial)
      throw new Error("some parts have spatial (sFID) moments and some not");
  }
  const pool = mergeMoments(parts.map((p) => p.pool));
  const spatial = parts[0].spatial ? mergeMoments(parts.map((p) => p.spatial!)) : undefined;
  return {
    pool,
    spatial,
    meta: { format: MOMENTS_FORMAT, version: 1, n: pool.n, convention: parts[0].meta.convention, source },
  };
}

/** mu/sigma (and mu_s/sigma_s) of merged moments, as a stats file (ddof 1, as every stats path here). */
export function statsFromMoments(m: MomentsFile, source = m.meta.source): StatsFile {
  return {
    pool: momentsStats(m.pool),
    spatial: m.spatial ? momentsStats(m.spatial) : undefined,
    meta: { format: STATS_FORMAT, version: 1, n: m.meta.n, convention: m.meta.convention, source },
  };
}
