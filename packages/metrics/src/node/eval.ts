/// <reference types="node" />
// What `flowturbo eval fid A B` and `flowturbo eval stats FOLDER -o stats.npz` do, as library calls.
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { type FidComparison, compareStats } from "../evaluate";
import { type FrechetOptions, formatDistance } from "../fid";
import { computeFeatures, type FeatureSummary, type InceptionExtractor } from "../features";
import { batchImages, type ImageBatch, type ImageSource } from "../images";
import { type PairwiseDistances, precisionRecall } from "../precisionRecall";
import { type StatsFile, type StatsMeta, statsFromSummary } from "../statsFile";
import { inspectNpzFile, readStatsFile, sampleNpzFileBatches, writeStatsFile } from "./files";

/** An argument of `eval fid`: a folder of images, a sample npz, a stats npz or an ADM reference batch. */
export interface EvalInput {
  path: string;
  kind: "folder" | "samples" | "stats" | "reference";
  /** Images in a sample npz or reference batch (arr_0), when known without reading it. */
  images?: { count: number; height: number; width: number };
}

/** Classifies a path for `eval fid` (a folder, or an npz by its members). */
export async function inspectEvalInput(path: string): Promise<EvalInput> {
  const st = await stat(path).catch(() => {
    throw new Error(`${path}: no such file or folder`);
  });
  if (st.isDirectory()) return { path, kind: "folder" };
  if (!path.toLowerCase().endsWith(".npz")) {
    throw new Error(
      `${path}: expected a folder of images, a sample .npz (arr_0) or a statistics .npz (mu, sigma)`,
    );
  }
  const k = await inspectNpzFile(path);
  return { path, kind: k.kind, images: k.images };
}

export interface StatsForInputOptions {
  /** Needed for folders and sample npz files. */
  extractor?: InceptionExtractor;
  /** Turns a folder into RGB images (e.g. @flowturbo/data's folder reader); needed for folders. */
  imageFolder?: (folder: string) => ImageSource;
  /** Images per batch read from disk (default: the extractor's batch size). */
  batchSize?: number;
  /** Use at most this many images. */
  limit?: number;
  onProgress?: (path: string, done: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export interface InputStats {
  input: EvalInput;
  stats: StatsFile;
  /** Present when the features were computed here (folders, sample npz files). */
  summary?: FeatureSummary;
}

/**
 * FID statistics of one `eval fid` argument: read from a stats npz / reference batch (mu/sigma only,
 * arr_0 untouched), or computed from a folder (uint8 images / 255, pytorch-fid pipeline) or a sample
 * npz (arr_0 uint8 NHWC, same pipeline) through the extractor.
 */
export async function statsForInput(path: string, options: StatsForInputOptions = {}): Promise<InputStats> {
  const input = await inspectEvalInput(path);
  if (input.kind === "stats" || input.kind === "reference")
    return { input, stats: await readStatsFile(path) };
  const extractor = options.extractor;
  if (!extractor) {
    throw new Error(
      `${path}: computing statistics of ${input.kind === "folder" ? "a folder" : "a sample batch"} needs the FID Inception (an InceptionExtractor)`,
    );
  }
  const batchSize = options.batchSize ?? extractor.batchSize;
  let total: number | undefined = input.images?.count;
  if (total !== undefined && options.limit !== undefined) total = Math.min(total, options.limit);
  const onProgress = options.onProgress
    ? (done: number) => options.onProgress!(path, done, total)
    : undefined;
  let batches: AsyncIterable<ImageBatch>;
  if (input.kind === "folder") {
    if (!options.imageFolder) {
      throw new Error(
        `${path}: reading a folder of images needs an image reader (options.imageFolder, e.g. from @flowturbo/data)`,
      );
    }
    batches = batchImages(options.imageFolder(path), batchSize);
  } else {
    batches = sampleNpzFileBatches(path, { batchSize });
  }
  const summary = await computeFeatures(extractor, batches, {
    limit: options.limit,
    onProgress,
    signal: options.signal,
  });
  return { input, stats: statsFromSummary(summary, basename(path)), summary };
}

/** The result of `eval fid A B`. */
export interface FidEvalReport {
  fid: number;
  sfid?: number;
  /** Inception Scores of inputs whose features were computed here (ADM convention). */
  inceptionScore: { a?: number; b?: number };
  a: { path: string; kind: EvalInput["kind"]; n?: number; convention?: StatsMeta["convention"] };
  b: { path: string; kind: EvalInput["kind"]; n?: number; convention?: StatsMeta["convention"] };
  notes: string[];
  details: FidComparison;
  seconds: number;
}

/** `flowturbo eval fid A B`: FID (and sFID where both sides have spatial statistics). */
export async function evalFid(
  a: string,
  b: string,
  options: StatsForInputOptions & FrechetOptions = {},
): Promise<FidEvalReport> {
  const t0 = performance.now();
  const sa = await statsForInput(a, options);
  const sb = await statsForInput(b, options);
  const details = compareStats(sa.stats, sb.stats, options);
  const side = (s: InputStats) => ({
    path: s.input.path,
    kind: s.input.kind,
    n: s.stats.meta?.n ?? s.stats.pool.n,
    convention: s.stats.meta?.convention,
  });
  return {
    fid: details.fid.value,
    sfid: details.sfid?.value,
    inceptionScore: { a: sa.summary?.inceptionScore.mean, b: sb.summary?.inceptionScore.mean },
    a: side(sa),
    b: side(sb),
    notes: details.notes,
    details,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The report as a plain JSON-able object (for `--json`; typed arrays dropped). */
export function fidReportJson(r: FidEvalReport): Record<string, unknown> {
  const term = (f: FidComparison["fid"]) => ({
    value: f.value,
    mean_term: f.meanTerm,
    trace_sigma1: f.traceSigma1,
    trace_sigma2: f.traceSigma2,
    trace_sqrt: f.traceSqrt,
    dim: f.dim,
    method: f.method,
  });
  return {
    fid: r.fid,
    sfid: r.sfid ?? null,
    inception_score: { a: r.inceptionScore.a ?? null, b: r.inceptionScore.b ?? null },
    a: r.a,
    b: r.b,
    terms: { fid: term(r.details.fid), sfid: r.details.sfid ? term(r.details.sfid) : null },
    notes: r.notes,
    seconds: r.seconds,
  };
}

/** The report as an aligned text table. */
export function formatFidReport(r: FidEvalReport): string {
  const rows: [string, string][] = [
    ["A", `${r.a.path} (${r.a.kind}${r.a.n !== undefined ? `, n=${r.a.n}` : ""})`],
    ["B", `${r.b.path} (${r.b.kind}${r.b.n !== undefined ? `, n=${r.b.n}` : ""})`],
    ["FID", formatDistance(r.fid)],
    ["sFID", r.sfid !== undefined ? formatDistance(r.sfid) : "-"],
  ];
  if (r.inceptionScore.a !== undefined) rows.push(["IS (A)", r.inceptionScore.a.toFixed(3)]);
  if (r.inceptionScore.b !== undefined) rows.push(["IS (B)", r.inceptionScore.b.toFixed(3)]);
  rows.push(["time", `${r.seconds.toFixed(1)} s`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}

/**
 * `flowturbo eval stats FOLDER -o stats.npz`: statistics (pool3 + spatial, n, convention, IS) of a
 * folder or sample npz, written as a small npz. Returns what was written.
 */
export async function writeStatsForInput(
  path: string,
  out: string,
  options: StatsForInputOptions = {},
): Promise<{ meta: StatsMeta; bytes: number }> {
  const s = await statsForInput(path, options);
  if (!s.summary) throw new Error(`${path}: already a statistics file`);
  const bytes = await writeStatsFile(out, s.stats);
  return { meta: s.stats.meta!, bytes };
}

export interface AdmEvalOptions {
  extractor: InceptionExtractor;
  /** Distances for precision/recall (default: CPU; use backendDistances(backend) for 10k x 50k sets). */
  distances?: PairwiseDistances;
  /** Rows per distance block (match backendDistances' block). */
  blockSize?: number;
  batchSize?: number;
  limit?: number;
  onProgress?: (path: string, done: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

/** ADM's evaluator output (evaluator.py main): IS, FID, sFID, precision, recall. */
export interface AdmEvalReport {
  inceptionScore: number;
  fid: number;
  sfid: number;
  precision: number;
  recall: number;
  nRef: number;
  nSample: number;
  /** Where each side's FID statistics came from: the file's mu/sigma (as ADM) or its images. */
  statsSource: { ref: "file" | "images"; sample: "file" | "images" };
  notes: string[];
  seconds: number;
}

async function admSide(path: string, options: AdmEvalOptions) {
  const input = await inspectEvalInput(path);
  if (!input.images) throw new Error(`${path}: the ADM evaluation needs images (arr_0) for precision/recall`);
  const total =
    options.limit !== undefined ? Math.min(options.limit, input.images.count) : input.images.count;
  const summary = await computeFeatures(
    options.extractor,
    sampleNpzFileBatches(path, { batchSize: options.batchSize ?? options.extractor.batchSize }),
    {
      keepPool3: true,
      limit: options.limit,
      signal: options.signal,
      onProgress: options.onProgress ? (done) => options.onProgress!(path, done, total) : undefined,
    },
  );
  // like ADM's read_statistics: a file's own mu/sigma (mu_s/sigma_s) win over its images
  const fileStats = input.kind === "reference" ? await readStatsFile(path) : undefined;
  const stats: StatsFile = fileStats?.spatial
    ? fileStats
    : { pool: fileStats?.pool ?? summary.pool, spatial: summary.spatial };
  return { summary, stats, source: (fileStats ? "file" : "images") as "file" | "images" };
}

/**
 * All five numbers of ADM's evaluator (`python evaluator.py REF SAMPLES`): Inception Score of the
 * samples, FID and sFID (reference statistics from the file when it has mu/sigma, as ADM does),
 * precision and recall (k = 3) between the pool3 features of the reference images (arr_0) and the
 * samples. Features are pytorch-fid's network (see the README on conventions).
 */
export async function evalAdm(
  reference: string,
  samples: string,
  options: AdmEvalOptions,
): Promise<AdmEvalReport> {
  const t0 = performance.now();
  const ref = await admSide(reference, options);
  const sam = await admSide(samples, options);
  const cmp = compareStats(sam.stats, ref.stats);
  if (!cmp.sfid) throw new Error("sFID statistics missing");
  const pr = await precisionRecall(
    ref.summary.pool3!,
    ref.summary.n,
    sam.summary.pool3!,
    sam.summary.n,
    2048,
    { distances: options.distances, blockSize: options.blockSize },
  );
  return {
    inceptionScore: sam.summary.inceptionScore.mean,
    fid: cmp.fid.value,
    sfid: cmp.sfid.value,
    precision: pr.precision,
    recall: pr.recall,
    nRef: ref.summary.n,
    nSample: sam.summary.n,
    statsSource: { ref: ref.source, sample: sam.source },
    notes: cmp.notes,
    seconds: (performance.now() - t0) / 1000,
  };
}
