// What every `flowturbo train-*` command shares: options and recipe flags, training data, --out and
// --resume (a run resumes with the recipe it started with), warm starts, learning-rate schedules, the
// loop with progress and stop signals, the model/EMA files and the summary.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { checkpointClassNames } from "@flowturbo/pipeline";
import { readModelFile } from "@flowturbo/pipeline/node";
import {
  type LrSchedule,
  type ModelCheckpoint,
  type ModelKind,
  parseLrSchedule,
  sameSchedulePast,
  type SiTConfig,
  syntheticSet,
  trainedWeights,
  type TrainingSet,
  warmStartWeights,
} from "@flowturbo/sit";
import { EMOJI_CATEGORIES, EMOJI_GROUP_CATEGORY, EMOJI_GROUP_NAMES } from "@flowturbo/data";
import {
  emojiDataSource,
  loadEmojiTrainingData,
  loadImageFolder,
  loadTrainingNpz,
  readTrainCheckpointFile,
  train,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  writeModelFile,
} from "@flowturbo/sit/node";
import { removeStaleTemps } from "@flowturbo/tensor/node";
import type { Tensor } from "@flowturbo/tensor";
import { clock } from "./progress";
import { type CommandContext, EXIT, type Options, UsageError } from "./cli";
import { checkOutputFolder, requireFile, sha256File } from "./files";
import { parseFloatFlag, parseIntFlag } from "./flags";
import { loadLatentCacheSet } from "./latentSet";
import { readCheckpoint } from "./models";

/** Exit code of a run stopped by SIGINT/SIGTERM after writing its checkpoint (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Files a training run keeps in its --out folder. */
export const TRAIN_FILES = {
  checkpoint: "checkpoint.safetensors",
  log: "log.jsonl",
  model: "model.safetensors",
  ema: "ema.safetensors",
} as const;

/** The largest training batch (as sampling's). */
export const MAX_TRAIN_BATCH = 4096;

/** Options every training command shares, with the command's optimizer defaults (OptimizerDefaults). */
export function commonTrainOptions(d: OptimizerDefaults & { data?: string }): Options {
  return {
    out: {
      type: "string",
      short: "o",
      value: "DIR",
      help: "the run's folder: checkpoint.safetensors, log.jsonl, model.safetensors, ema.safetensors (required; created when the run starts)",
    },
    data: {
      type: "string",
      value: "FILE.npz|emoji:groups|emoji:categories",
      help: "training data: an npz with uint8 'images' NHWC or float 'latents' NCHW and integer 'labels', or an ADM sample npz (arr_0, arr_1)",
      default: d.data ?? "the emoji dataset",
    },
    images: { type: "string", value: "DIR", help: "training data: an ImageFolder (one subfolder per class)" },
    latents: { type: "string", value: "DIR", help: "training data: a latent cache of VAE posteriors" },
    "image-size": { type: "string", value: "N", help: "--images: center-crop size", default: "32" },
    synthetic: { type: "string", value: "N", help: "training data: N toy blobs of 9 classes" },
    batch: {
      type: "string",
      value: "B",
      help: `samples per step (1..${MAX_TRAIN_BATCH})`,
      default: String(d.batch),
    },
    lr: { type: "string", value: "LR", help: "AdamW learning rate, in [0, 1]", default: String(d.lr) },
    "lr-schedule": {
      type: "string",
      value: "SPEC",
      help: "constant, cosine:H or linear:[S-]H[@MIN] (decay over H steps, from step S)",
      default: "constant",
    },
    warmup: { type: "string", value: "W", help: "linear warm-up steps", default: "0" },
    "weight-decay": {
      type: "string",
      value: "WD",
      help: "AdamW weight decay, in [0, 1]",
      default: String(d.weightDecay ?? 0),
    },
    "max-grad-norm": {
      type: "string",
      value: "G",
      help: "gradient clipping norm (0: none)",
      default: String(d.maxGradNorm ?? 0),
    },
    ema: { type: "string", value: "D", help: "EMA decay, in [0, 1]", default: String(d.ema) },
    steps: {
      type: "string",
      value: "N",
      help: "total optimizer steps, counting a resumed run's (required; more than the checkpoint's step)",
    },
    "checkpoint-every": { type: "string", value: "N", help: "checkpoint every N steps", default: "100" },
    resume: {
      type: "boolean",
      help: "continue the run in --out from its checkpoint (same data order and draws; recipe flags must agree)",
    },
    seed: { type: "string", value: "S", help: "seed of the weights, data order and draws", default: "0" },
    "label-drop": {
      type: "string",
      value: "P",
      help: "label dropout probability (classifier-free guidance)",
      default: "0.1",
    },
    "no-flip": { type: "boolean", help: "no random horizontal flips" },
    threads: { type: "string", value: "N", help: "ONNX Runtime threads (1..256)", default: "ORT's" },
    "print-every": {
      type: "string",
      value: "N",
      help: "a progress line every N steps when stderr is not a terminal",
      default: "steps / 20, at most 100",
    },
  };
}

/**
 * A model file's path (--teacher, --init) as a recipe records it: relative to the run's folder, so that
 * a resume works from any working directory (and the tree can move as a whole).
 */
export function recipePath(path: string, outDir: string): string {
  return relative(resolve(outDir), resolve(path));
}

/** A recorded path back to a usable one; recipes of older runs recorded it relative to where they started. */
export function resolveRecipePath(recorded: string, outDir: string): string {
  const fromOut = resolve(outDir, recorded);
  return isAbsolute(recorded) || existsSync(fromOut) ? fromOut : recorded;
}

/** The data source recorded for the bundled emoji dataset. */
export const EMOJI_SOURCE = "emoji32.npz";

export interface TrainingData {
  set: TrainingSet;
  classNames: readonly string[];
  /** What the data is, for the metadata and the summary. */
  source: string;
}

/**
 * --synthetic N, --data FILE.npz, --images DIR (ImageFolder, --image-size), --latents DIR (a latent cache:
 * a fresh posterior sample per draw, from `seed`), or the bundled emoji dataset.
 */
export async function trainingData(
  values: CommandContext["values"],
  /** The model's class count when training for an existing model (the refiner's teacher). */
  numClasses: number | undefined,
  seed: number,
): Promise<TrainingData> {
  const synthetic = parseIntFlag(values.synthetic, "--synthetic", 1, 10_000_000);
  if (synthetic !== undefined) {
    if (values.data || values.images) throw new UsageError("--synthetic excludes --data and --images");
    const set = syntheticSet(synthetic, 9, 32, 3);
    return {
      set,
      classNames: Array.from({ length: 9 }, (_, i) => `blob ${i}`),
      source: `synthetic:${synthetic}`,
    };
  }
  const sources = ["data", "images", "latents"].filter((k) => values[k] !== undefined);
  if (sources.length > 1)
    throw new UsageError(`--${sources.join(" and --")} are exclusive: pick one data source`);
  if (values.latents !== undefined) {
    const dir = String(values.latents);
    try {
      const d = await loadLatentCacheSet(dir, { seed, numClasses });
      const names = Array.from({ length: d.set.numClasses }, (_, i) => String(i));
      return { set: d.set, classNames: names, source: `latents:${dir}` };
    } catch (e) {
      throw new UsageError(`--latents: ${(e as Error).message}`);
    }
  }
  if (values.images !== undefined) {
    const size = parseIntFlag(values["image-size"], "--image-size", 1, 4096) ?? 32;
    try {
      const d = await loadImageFolder(String(values.images), size, {
        numClasses,
        classMap: values["class-map"] as string | undefined,
      });
      return { set: d.set, classNames: d.classNames, source: `images:${size}:${values.images}` };
    } catch (e) {
      throw new UsageError(`--images: ${(e as Error).message}`);
    }
  }
  const emoji = emojiDataSource(values.data as string | undefined);
  if (emoji) {
    const d = await loadEmojiTrainingData(emoji);
    if (numClasses !== undefined && numClasses !== d.classNames.length)
      throw new UsageError(
        `--data ${values.data} has ${d.classNames.length} classes, the model ${numClasses}`,
      );
    return { set: d.set, classNames: d.classNames, source: String(values.data) };
  }
  const path = values.data === undefined ? undefined : await requireFile(values.data as string, "--data");
  try {
    const d = await loadTrainingNpz(path);
    return { set: d.set, classNames: d.classNames, source: path ?? EMOJI_SOURCE };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * How a warm start's classes map onto the new model's: the same count maps one to one; a model of the 9
 * emoji categories maps onto the 24 groups (each group starts from its category's embedding).
 */
export function warmStartClassMap(
  source: ModelCheckpoint,
  classNames: readonly string[],
): number[] | undefined {
  if (source.config.numClasses === classNames.length) return undefined;
  const names = checkpointClassNames(source) ?? [];
  const isCategories =
    names.length === EMOJI_CATEGORIES.length && names.every((n, i) => n === EMOJI_CATEGORIES[i]);
  const isGroups =
    classNames.length === EMOJI_GROUP_NAMES.length && classNames.every((n, i) => n === EMOJI_GROUP_NAMES[i]);
  if (isCategories && isGroups) return [...EMOJI_GROUP_CATEGORY];
  throw new UsageError(
    `--init ${source.file} has ${source.config.numClasses} classes, the data ${classNames.length}: only the same classes, or the 9 emoji categories for the 24 groups, can be mapped`,
  );
}

/**
 * --init FILE: the model's weights as the run's initial weights (recipe fields init and initSha256; a
 * resume checks that the file did not change). Returns the weights and the recipe with the checksum.
 */
export async function warmStart(
  recipe: Recipe,
  fresh: Map<string, Tensor>,
  classNames: readonly string[],
  model: { kind: "sit" | "refiner"; config: SiTConfig; prefix?: string },
  outDir: string,
): Promise<{ weights: Map<string, Tensor>; recipe: Recipe }> {
  if (!recipe.init) return { weights: fresh, recipe };
  const path = await requireFile(resolveRecipePath(String(recipe.init), outDir), "--init");
  const sha = await sha256File(path);
  if (recipe.initSha256 && recipe.initSha256 !== sha)
    throw new UsageError(`--resume: the --init file ${path} changed since the run started (sha256 differs)`);
  const src = await readCheckpoint(path, "--init", undefined, model.kind);
  const c = model.config;
  const s = src.config;
  if (
    s.hiddenSize !== c.hiddenSize ||
    s.patchSize !== c.patchSize ||
    s.numHeads !== c.numHeads ||
    s.depth > c.depth
  )
    throw new UsageError(
      `--init ${path}: width ${s.hiddenSize}, patch ${s.patchSize}, heads ${s.numHeads}, depth ${s.depth} do not fit the new model (width ${c.hiddenSize}, patch ${c.patchSize}, heads ${c.numHeads}, depth ${c.depth}: only deeper)`,
    );
  try {
    const { weights } = warmStartWeights(fresh, src.weights, {
      prefix: model.prefix,
      classMap: warmStartClassMap(src, classNames),
    });
    return { weights, recipe: { ...recipe, initSha256: sha } };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--init: ${(e as Error).message}`);
  }
}

/** The data source the flags name (recorded in the recipe). */
export function dataSourceFlag(values: CommandContext["values"]): string {
  if (values.synthetic !== undefined) return `synthetic:${values.synthetic}`;
  if (values.images !== undefined) return `images:${values["image-size"] ?? 32}:${values.images}`;
  if (values.latents !== undefined) return `latents:${values.latents}`;
  return values.data === undefined ? EMOJI_SOURCE : String(values.data);
}

/** On --resume without --data/--synthetic: the data the checkpoint's run used. */
export function dataFlagsOnResume(
  values: CommandContext["values"],
  recorded: string,
): CommandContext["values"] {
  if (
    values.data !== undefined ||
    values.synthetic !== undefined ||
    values.images !== undefined ||
    values.latents !== undefined
  )
    return values;
  if (recorded.startsWith("latents:")) return { ...values, latents: recorded.slice("latents:".length) };
  if (recorded.startsWith("synthetic:")) return { ...values, synthetic: recorded.slice("synthetic:".length) };
  const folder = /^images:(\d+):(.*)$/s.exec(recorded);
  if (folder) return { ...values, images: folder[2], "image-size": folder[1] };
  if (recorded === EMOJI_SOURCE) return values;
  return { ...values, data: recorded };
}

/** The recipe fields that must not change across a resume. */
export type Recipe = Record<string, string | number | boolean>;

/** --lr-schedule and --warmup as recipe fields (constant without warm-up when not given). */
export function scheduleFlags(values: CommandContext["values"]): Recipe {
  const lrSchedule = (values["lr-schedule"] as string | undefined) ?? "constant";
  const warmup = parseIntFlag(values.warmup, "--warmup", 0) ?? 0;
  return { lrSchedule, warmup };
}

/**
 * The learning-rate schedule of a recipe (recipes written before schedules existed: constant), and
 * whether the step graph takes its learning rate as an input (a schedule other than plain constant).
 */
export function recipeSchedule(recipe: Recipe): { schedule: LrSchedule; lrInput: boolean } {
  let schedule: LrSchedule;
  try {
    schedule = parseLrSchedule(
      String(recipe.lrSchedule ?? "constant"),
      Number(recipe.lr),
      Number(recipe.warmup ?? 0),
    );
  } catch (e) {
    throw new UsageError(`--lr-schedule: ${(e as Error).message}`);
  }
  return { schedule, lrInput: schedule.kind !== "constant" || schedule.warmup > 0 };
}

/**
 * Compares the recipe of a resumed checkpoint with the flags given now; returns the checkpoint's. A new
 * --lr-schedule is accepted when it gives the same rate as the recorded one at every step already taken
 * (`step`: the checkpoint's), e.g. the cool-down of a run trained at a constant rate.
 */
export function resumeRecipe(
  saved: string | undefined,
  now: Recipe,
  given: ReadonlySet<string>,
  step?: number,
): Recipe {
  if (!saved)
    throw new UsageError("the checkpoint records no recipe: it was not written by flowturbo train-*");
  let recipe = JSON.parse(saved) as Recipe;
  if (step !== undefined && given.has("lrSchedule") && !given.has("lr") && !given.has("warmup")) {
    const before = recipeSchedule(recipe).schedule;
    const after = recipeSchedule({ ...recipe, lrSchedule: now.lrSchedule }).schedule;
    if (sameSchedulePast(before, after, step)) recipe = { ...recipe, lrSchedule: now.lrSchedule };
    else
      throw new UsageError(
        `--resume: --lr-schedule ${now.lrSchedule} changes the rate of steps already taken (up to ${step}); only the steps after them may change`,
      );
  }
  const conflicts = Object.keys(now).filter((k) => given.has(k) && String(recipe[k]) !== String(now[k]));
  if (conflicts.length)
    throw new UsageError(
      `--resume: ${conflicts.map((k) => `${k} ${now[k]} differs from the checkpoint's ${recipe[k]}`).join("; ")}`,
    );
  return recipe;
}

/** A loss for humans: 4 decimals, or 4 significant digits below 0.01. */
export function fmtLoss(x: number): string {
  return Math.abs(x) < 0.01 && x !== 0 ? x.toExponential(3) : x.toFixed(4);
}

/** Progress on stderr: a redrawn bar on a TTY, plain lines every `every` steps otherwise. */
export function progressPrinter(
  stderr: NodeJS.WritableStream,
  every: number,
): { update: (p: TrainProgress) => void; done: () => void } {
  const tty = (stderr as NodeJS.WriteStream).isTTY === true;
  let drawn = false;
  return {
    update(p) {
      const pct = Math.floor((100 * p.step) / p.steps);
      const stats = `loss ${fmtLoss(p.loss)} (avg ${fmtLoss(p.smoothLoss)}) ${p.stepsPerSec.toFixed(2)} it/s ${p.samplesPerSec.toFixed(1)} samples/s ETA ${clock(p.etaSec)}`;
      if (tty) {
        const width = 24;
        const fill = Math.round((width * p.step) / p.steps);
        stderr.write(
          `\r\x1b[2Kstep ${p.step}/${p.steps} [${"=".repeat(fill)}${" ".repeat(width - fill)}] ${pct}% ${stats}`,
        );
        drawn = true;
      } else if (p.step % every === 0 || p.step === p.steps) {
        stderr.write(`step ${p.step}/${p.steps} (${pct}%) ${stats} elapsed ${clock(p.elapsedSec)}\n`);
      }
    },
    done() {
      if (drawn) stderr.write("\n");
    },
  };
}

/** Runs `fn` with an AbortSignal that SIGINT/SIGTERM abort (a second signal kills as usual). */
export async function withStopSignals<T>(
  stderr: NodeJS.WritableStream,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    stderr.write(`\n${sig}: stopping after this step and writing a checkpoint (send again to kill)\n`);
    ctl.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await fn(ctl.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export interface OutFolder {
  dir: string;
  checkpoint: string;
  log: string;
  model: string;
  ema: string;
}

/**
 * Checks --out and --resume: a new run refuses to overwrite a checkpoint, --resume needs one; the folder
 * must be writable. Nothing is created (runTraining makes the folder), so a refused run leaves nothing.
 */
export async function outFolder(values: CommandContext["values"]): Promise<OutFolder & { resume: boolean }> {
  const dir = values.out as string | undefined;
  if (!dir) throw new UsageError("--out DIR is required (checkpoint, log and model files go there)");
  await checkOutputFolder(dir, "--out");
  const f = {
    dir,
    checkpoint: join(dir, TRAIN_FILES.checkpoint),
    log: join(dir, TRAIN_FILES.log),
    model: join(dir, TRAIN_FILES.model),
    ema: join(dir, TRAIN_FILES.ema),
  };
  const exists = existsSync(f.checkpoint);
  if (values.resume === true && !exists)
    throw new UsageError(`--resume: no checkpoint to resume in ${dir} (${TRAIN_FILES.checkpoint})`);
  if (values.resume !== true && exists)
    throw new UsageError(
      `${f.checkpoint} exists: pass --resume to continue that run, or choose another --out`,
    );
  return { ...f, resume: values.resume === true };
}

/** The flags of `names` that were given on the command line (as recipe keys). */
export function givenFlags(values: CommandContext["values"], names: Record<string, string>): Set<string> {
  return new Set(
    Object.entries(names)
      .filter(([flag]) => values[flag] !== undefined)
      .map(([, key]) => key),
  );
}

export function summaryLine(r: TrainResult, batch: number): Record<string, unknown> {
  return {
    steps: r.state.step,
    startStep: r.startStep,
    interrupted: r.interrupted,
    loss: r.loss,
    smoothLoss: r.smoothLoss,
    elapsedSec: Number(r.elapsedSec.toFixed(3)),
    stepsPerSec: r.stepsPerSec,
    samplesPerSec: r.stepsPerSec * batch,
  };
}

/** What differs between train-base and train-refiner once the training-step graph is built. */
export interface TrainRun {
  command: "train-base" | "train-refiner" | "train-classifier";
  step: TrainOptions["step"];
  weights: ReadonlyMap<string, Tensor>;
  feeds: TrainOptions["data"];
  steps: number;
  batch: number;
  threads?: number;
  checkpointEvery: number;
  out: OutFolder & { resume: boolean };
  /** Checkpoint metadata (kind, seed, recipe, configs, classes). */
  metadata: Record<string, string>;
  recipe: Recipe;
  classNames: readonly string[];
  /** The trained model as written to model/ema.safetensors; `prefix`: its parameters' prefix in the step graph. */
  model: ({ kind: ModelKind; config: SiTConfig } | { kind: string; config: object }) & { prefix?: string };
  /**
   * Measures the trained weights before the files are written (e.g. held-out accuracy): metadata added
   * to both files and fields added to the summary.
   */
  evaluate?: (weights: {
    model: Map<string, Tensor>;
    ema: Map<string, Tensor>;
  }) => Promise<{ metadata?: Record<string, string>; summary?: Record<string, unknown> }>;
  /** The learning rate of each 0-based step, for step graphs built with `lrInput`. */
  lr?: (step: number) => number;
  /** Summary fields between the run figures and the file paths (config, parameters, data...). */
  summary: Record<string, unknown>;
  /** Said after the model file's path in the final message. */
  modelNote?: string;
}

/**
 * The common tail of the training commands: the loop (progress on stderr, SIGINT/SIGTERM write a
 * checkpoint and stop), then the model and EMA files and the summary. Returns the exit code.
 */
export async function runTraining(ctx: CommandContext, r: TrainRun): Promise<number> {
  const v = ctx.values;
  const { out } = r;
  await mkdir(out.dir, { recursive: true });
  // leftovers of writes a killed run did not finish (its checkpoint is the previous one, intact)
  for (const file of [out.checkpoint, out.log, out.model, out.ema])
    for (const stale of await removeStaleTemps(file))
      ctx.stderr.write(`removed ${stale}: a temporary file of an interrupted write\n`);
  const backend = createNodeBackend({ threads: r.threads });
  const printEvery =
    parseIntFlag(v["print-every"], "--print-every") ?? Math.max(1, Math.min(100, Math.ceil(r.steps / 20)));
  const progress = progressPrinter(ctx.stderr, printEvery);
  let result: TrainResult;
  try {
    result = await withStopSignals(ctx.stderr, (signal) =>
      train({
        backend,
        step: r.step,
        weights: r.weights,
        data: r.feeds,
        steps: r.steps,
        resume: out.resume ? out.checkpoint : undefined,
        checkpointPath: out.checkpoint,
        checkpointEvery: r.checkpointEvery,
        logPath: out.log,
        metadata: r.metadata,
        batchSize: r.batch,
        lr: r.lr,
        onProgress: progress.update,
        signal,
      }),
    );
  } finally {
    progress.done();
    await backend.close();
  }
  const meta = {
    steps: String(result.state.step),
    recipe: JSON.stringify(r.recipe),
    classes: JSON.stringify(r.classNames),
  };
  const { prefix, ...model } = r.model;
  const weights = {
    model: trainedWeights(result.state, r.weights, { prefix }),
    ema: trainedWeights(result.state, r.weights, { prefix, ema: true }),
  };
  const measured = r.evaluate ? await r.evaluate(weights) : {};
  await writeModelFile(out.model, weights.model, model, { ...meta, ...measured.metadata });
  await writeModelFile(out.ema, weights.ema, model, { ...meta, ...measured.metadata });
  const summary = {
    command: r.command,
    ...summaryLine(result, r.batch),
    ...r.summary,
    ...measured.summary,
    checkpoint: out.checkpoint,
    log: out.log,
    model: out.model,
    ema: out.ema,
  };
  if (ctx.json) ctx.stdout.write(`${JSON.stringify(summary)}\n`);
  else
    ctx.stdout.write(
      `${result.interrupted ? "interrupted" : "done"} at step ${result.state.step}/${r.steps}: loss ${fmtLoss(result.smoothLoss)} (smoothed), ${result.stepsPerSec.toFixed(2)} it/s\n` +
        `wrote ${out.model}${r.modelNote ?? ""}, ${out.ema} and ${out.checkpoint} (resume with --resume)\n`,
    );
  return result.interrupted ? EXIT_INTERRUPTED : EXIT.ok;
}

/** Recipe keys of the flags every train-* command has (a flag given on --resume is checked against them). */
export const COMMON_RECIPE_FLAGS: Readonly<Record<string, string>> = {
  batch: "batch",
  lr: "lr",
  "lr-schedule": "lrSchedule",
  warmup: "warmup",
  "weight-decay": "weightDecay",
  "max-grad-norm": "maxGradNorm",
  ema: "ema",
  seed: "seed",
  "label-drop": "labelDrop",
  "no-flip": "noFlip",
  data: "data",
  synthetic: "data",
  images: "data",
  "image-size": "data",
};

/** How long and how a run goes: --steps (required), --checkpoint-every, --threads. */
export function runFlags(v: CommandContext["values"]): {
  steps: number;
  checkpointEvery: number;
  threads?: number;
} {
  const steps = parseIntFlag(v.steps, "--steps");
  if (!steps) throw new UsageError("--steps N is required (the total number of optimizer steps)");
  return {
    steps,
    checkpointEvery: parseIntFlag(v["checkpoint-every"], "--checkpoint-every") ?? 100,
    threads: parseIntFlag(v.threads, "--threads", 1, 256),
  };
}

/** A command's optimizer defaults (anything not given falls back to these). */
export interface OptimizerDefaults {
  batch: number;
  lr: number;
  weightDecay?: number;
  maxGradNorm?: number;
  ema: number;
}

/**
 * The recipe fields of the shared flags: --batch, --lr, --lr-schedule, --warmup, --weight-decay,
 * --max-grad-norm, --ema, --seed, --label-drop, --no-flip.
 */
export function optimizerRecipe(v: CommandContext["values"], d: OptimizerDefaults): Recipe {
  return {
    batch: parseIntFlag(v.batch, "--batch", 1, MAX_TRAIN_BATCH) ?? d.batch,
    lr: parseFloatFlag(v.lr, "--lr", 0, 1) ?? d.lr,
    ...scheduleFlags(v),
    weightDecay: parseFloatFlag(v["weight-decay"], "--weight-decay", 0, 1) ?? d.weightDecay ?? 0,
    maxGradNorm: parseFloatFlag(v["max-grad-norm"], "--max-grad-norm", 0) ?? d.maxGradNorm ?? 0,
    ema: parseFloatFlag(v.ema, "--ema", 0, 1) ?? d.ema,
    seed: parseIntFlag(v.seed, "--seed", 0) ?? 0,
    labelDrop: parseFloatFlag(v["label-drop"], "--label-drop", 0, 1) ?? 0.1,
    noFlip: v["no-flip"] === true,
  };
}

/**
 * --out and --resume: a new run uses `now`; --resume reads the checkpoint, checks that it is a run of
 * this command (`kind`), and continues with its recipe (flags given now must agree with it, see
 * resumeRecipe).
 */
export async function startOrResume(
  v: CommandContext["values"],
  command: string,
  kind: string,
  now: Recipe,
  recipeFlags: Readonly<Record<string, string>>,
): Promise<{ out: OutFolder & { resume: boolean }; recipe: Recipe }> {
  const out = await outFolder(v);
  if (!out.resume) return { out, recipe: now };
  const saved = await readTrainCheckpointFile(out.checkpoint);
  if (saved.metadata.kind !== kind)
    throw new UsageError(
      `--resume: ${out.checkpoint} is a ${saved.metadata.kind ?? "unknown"} run, not ${command}`,
    );
  const steps = parseIntFlag(v.steps, "--steps");
  if (steps !== undefined && steps <= saved.state.step)
    throw new UsageError(
      `--resume: the run in ${out.dir} is at step ${saved.state.step} already; --steps ${steps} would train nothing (give more than ${saved.state.step} to continue it)`,
    );
  const recipe = resumeRecipe(saved.metadata.recipe, now, givenFlags(v, recipeFlags), saved.state.step);
  return { out, recipe };
}
