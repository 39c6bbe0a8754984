// Shared pieces of the emoji model's quality measurements (bench/emojiFd.ts, bench/emojiCard.ts): models
// from files or from a training checkpoint (its EMA weights), samples of a method at a CFG scale
// quantized to 8 bits exactly as `flowturbo sample` writes PNGs, and their FD-emoji / class agreement
// against the dataset's statistics.
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import type { Backend } from "@flowturbo/core";
import {
  blockPlanOf,
  isGuided,
  openSamplingModels,
  parseMethod,
  type SamplingMethod,
  type SamplingModels,
  sample,
} from "@flowturbo/pipeline";
import { readModelFile } from "@flowturbo/pipeline/node";
import { EMOJI_GROUP_CATEGORY, encodePng, floatToUint8Nhwc, makeGrid } from "@flowturbo/data";
import {
  compareStats,
  type EmojiClassifierModel,
  type EmojiEvalResult,
  EmojiFeatureExtractor,
  emojiEvaluate,
  type StatsFile,
  uint8Batches,
} from "@flowturbo/metrics";
import { loadEmojiClassifier, readEmojiStats, writeStatsFile } from "@flowturbo/metrics/node";
import { type ModelCheckpoint, sincosPosEmbed, type SiTConfig, trainedWeights } from "@flowturbo/sit";
import { readTrainCheckpointFile } from "@flowturbo/sit/node";
import type { Plan } from "@flowturbo/solvers";
import { labelsForSamples, Tensor } from "@flowturbo/tensor";
import { EMOJI_REFERENCE, referenceStats } from "../src/emojiEval";

/** A SiT/refiner file, or a train-base/train-refiner checkpoint (its EMA weights, or the raw ones with ema: false). */
export async function loadModel(path: string, opts: { ema?: boolean } = {}): Promise<ModelCheckpoint> {
  if (basename(path) === "checkpoint.safetensors") {
    const ck = await readTrainCheckpointFile(path);
    const config = JSON.parse(ck.metadata.config) as SiTConfig;
    const kind = ck.metadata.kind === "refiner" ? "refiner" : "sit";
    const prefix = kind === "refiner" ? "refiner" : undefined;
    const pos = sincosPosEmbed(config.hiddenSize, config.inputSize / config.patchSize);
    const frozen = new Map([[prefix ? `${prefix}.pos_embed` : "pos_embed", pos]]);
    const weights = trainedWeights(ck.state, frozen, { prefix, ema: opts.ema ?? true });
    return {
      kind,
      config,
      weights,
      format: "safetensors",
      file: `${path}@${ck.state.step}`,
      metadata: { classes: ck.metadata.classes ?? "" },
    };
  }
  return await readModelFile(path, {});
}

/** The classifier and a built-in reference's statistics (shipped beside it, else computed and cached in cacheDir). */
export async function openQuality(
  backend: Backend,
  classifierPath: string,
  cacheDir?: string,
  reference = EMOJI_REFERENCE,
): Promise<{ model: EmojiClassifierModel; extractor: EmojiFeatureExtractor; reference: StatsFile }> {
  const model = await loadEmojiClassifier(classifierPath);
  const extractor = new EmojiFeatureExtractor(backend, model, { batchSize: 100 });
  const cached = cacheDir
    ? join(cacheDir, `${reference.replace(":", "-")}-stats-${model.sha256.slice(0, 12)}.npz`)
    : undefined;
  if (cached && existsSync(cached))
    return { model, extractor, reference: await readEmojiStats(cached, model) };
  const stats = await referenceStats(reference, { extractor, classifierPath });
  if (cached) await writeStatsFile(cached, stats);
  return { model, extractor, reference: stats };
}

export interface QualityRow {
  method: string;
  cfg: number;
  n: number;
  fd: number;
  /** Class agreement (groups; for models of the 9 categories: the predicted group's category). */
  agreement: number;
  nfe: { base: number; refiner: number };
  /** Sampling wall time per image (ms), excluding model loading. */
  msPerImage: number;
}

/** The method of a name: "H1P5R3" (a plan), "heun:8", "euler:16", "dopri5". */
export function methodOf(name: string): SamplingMethod {
  if (name === "dopri5") return parseMethod({ solver: "dopri5" });
  const m = /^(heun|euler|midpoint|rk4):(\d+)$/.exec(name);
  if (m) return parseMethod({ solver: m[1], steps: Number(m[2]) });
  return parseMethod({ plan: name });
}

/** uint8 NHWC samples of `method` for global indices [0, n) with `labels`, their timing and NFE. */
export async function sampleUint8(
  models: SamplingModels,
  o: { method: SamplingMethod; cfg: number; labels: number[]; seed: number; batch: number },
): Promise<{ images: Uint8Array; ms: number; nfe: { base: number; refiner: number } }> {
  const c = models.config;
  const useBlocks = models.blocks !== undefined && blockPlanOf(o.method) !== undefined;
  const r = await sample({
    base: models.base,
    refiner: models.refiner,
    ...(useBlocks ? { compile: "block" as const, blocks: models.blocks!.sessions } : {}),
    shape: [c.keepChannels, c.inputSize, c.inputSize],
    labels: o.labels,
    nullClass: c.numClasses,
    method: o.method,
    seed: o.seed,
    cfgScale: o.cfg,
    batchSize: o.batch,
  });
  const images = floatToUint8Nhwc(
    new Tensor(
      "float32",
      [o.labels.length, c.keepChannels, c.inputSize, c.inputSize],
      r.latents.data as Float32Array,
    ),
  ).data as Uint8Array;
  return { images, ms: r.timings.sampling, nfe: r.nfe };
}

/** FD-emoji and class agreement of uint8 samples with their labels (groups, or categories for 9-class models). */
export async function quality(
  extractor: EmojiFeatureExtractor,
  reference: StatsFile,
  images: Uint8Array,
  labels: number[],
  numClasses: number,
): Promise<{ fd: number; agreement: number; result: EmojiEvalResult }> {
  const categories = numClasses === 9 && extractor.model.config.numClasses === 24;
  const result = await emojiEvaluate(extractor, uint8Batches(images, labels.length, 32, 100, labels), {
    numLabels: numClasses,
    toLabel: categories ? [...EMOJI_GROUP_CATEGORY] : undefined,
  });
  return { fd: compareStats(result.stats, reference).fid.value, agreement: result.agreement!.rate, result };
}

/** Opens base (+ refiner) at level "model" with block sessions for the plans/Heun runs given. */
export async function openForQuality(
  backend: Backend,
  base: ModelCheckpoint,
  refiner: ModelCheckpoint | undefined,
  o: { batch: number; cfg: number; plans: Plan[] },
): Promise<SamplingModels> {
  return openSamplingModels(backend, {
    base,
    refiner,
    level: o.plans.length ? "block" : "model",
    perCall: true,
    providers: ["cpu"],
    block: o.plans.length ? { batch: o.batch, guided: isGuided(o.cfg), plans: o.plans } : undefined,
  });
}

/** The plans of the named methods that run as compiled blocks (what openForQuality compiles). */
export function plansOf(names: readonly string[]): Plan[] {
  return names.map(methodOf).flatMap((m) => blockPlanOf(m) ?? []);
}

/**
 * FD-emoji and class agreement of every named method at every CFG scale: n samples (global indices
 * [0, n), labels drawn as `flowturbo sample` draws them), one line per row through `log`.
 */
export async function qualityRows(
  backend: Backend,
  q: { extractor: EmojiFeatureExtractor; reference: StatsFile },
  base: ModelCheckpoint,
  refiner: ModelCheckpoint | undefined,
  o: { methods: readonly string[]; scales: readonly number[]; n: number; batch: number; seed: number },
  log: (row: QualityRow) => void,
): Promise<QualityRow[]> {
  const k = base.config.numClasses;
  const labels = Array.from(labelsForSamples(o.seed, 0, o.n, k));
  const rows: QualityRow[] = [];
  for (const cfg of o.scales) {
    const models = await openForQuality(backend, base, refiner, {
      batch: o.batch,
      cfg,
      plans: plansOf(o.methods),
    });
    for (const name of o.methods) {
      const s = await sampleUint8(models, {
        method: methodOf(name),
        cfg,
        labels,
        seed: o.seed,
        batch: o.batch,
      });
      const r = await quality(q.extractor, q.reference, s.images, labels, k);
      const row = {
        method: name,
        cfg,
        n: o.n,
        fd: r.fd,
        agreement: r.agreement,
        nfe: s.nfe,
        msPerImage: s.ms / o.n,
      };
      rows.push(row);
      log(row);
    }
    await models.release();
  }
  return rows;
}

/** `per` samples of every class, one row per class, as a PNG shown at 2x (nearest): for looking at a model. */
export async function classGridPng(
  models: SamplingModels,
  o: { method: SamplingMethod; cfg: number; seed: number; per: number },
): Promise<{ png: Uint8Array; count: number; nfe: { base: number; refiner: number } }> {
  const c = models.config;
  const labels = Array.from({ length: c.numClasses * o.per }, (_, i) => Math.floor(i / o.per));
  const s = await sampleUint8(models, { ...o, labels, batch: labels.length });
  const images = new Tensor("uint8", [labels.length, c.inputSize, c.inputSize, c.keepChannels], s.images);
  const grid = makeGrid(images, o.per, { padding: 2, padValue: 255 });
  const up = new Uint8Array(grid.width * grid.height * 12);
  for (let y = 0; y < 2 * grid.height; y++)
    for (let x = 0; x < 2 * grid.width; x++) {
      const src = ((y >> 1) * grid.width + (x >> 1)) * 3;
      up.set(grid.data.subarray(src, src + 3), (y * 2 * grid.width + x) * 3);
    }
  const png = await encodePng({ width: 2 * grid.width, height: 2 * grid.height, data: up });
  return { png, count: labels.length, nfe: s.nfe };
}
