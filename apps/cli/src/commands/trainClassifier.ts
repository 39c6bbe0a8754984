// `flowturbo train-classifier`: the emoji classifier behind FD-emoji and class agreement (@flowturbo/metrics
// emojiClassifier), trained with the same loop, checkpoints, resume and files as train-base on the emoji
// dataset minus a held-out split chosen by emoji identity (both fonts and every skin tone of an emoji on
// the same side); the held-out accuracy is measured at the end and recorded in the model files.
import { createNodeBackend } from "@flowturbo/backend-node";
import {
  AgreementAccumulator,
  argmaxRows,
  EMOJI_CLASSIFIER_DEFAULTS,
  EMOJI_CLASSIFIER_KIND,
  type EmojiClassifierConfig,
  EmojiFeatureExtractor,
  emojiClassifierInitialWeights,
  emojiClassifierTrainingStep,
  uint8Batches,
} from "@flowturbo/metrics";
import { BatchSampler, lrAt, type TrainingSet } from "@flowturbo/sit";
import { emojiDataSource, emojiSplit, loadEmojiTrainingData, subsetSet } from "@flowturbo/sit/node";
import { Rng, Tensor } from "@flowturbo/tensor";
import { type Command, UsageError } from "../cli";
import { parseFloatFlag, parseIntFlag } from "../flags";
import {
  commonTrainOptions,
  MAX_TRAIN_BATCH,
  type Recipe,
  recipeSchedule,
  runFlags,
  runTraining,
  scheduleFlags,
  startOrResume,
} from "../training";

/** The shipped classifier's recipe (models/emoji-classifier). */
export const CLASSIFIER_DEFAULTS = {
  batch: 64,
  lr: 2e-3,
  weightDecay: 0.05,
  labelSmoothing: 0.1,
  heldOut: 0.15,
  shift: 2,
  ema: 0.999,
  data: "emoji:groups",
} as const;

const RECIPE_FLAGS = {
  widths: "widths",
  blocks: "blocks",
  batch: "batch",
  lr: "lr",
  "lr-schedule": "lrSchedule",
  warmup: "warmup",
  "weight-decay": "weightDecay",
  "label-smoothing": "labelSmoothing",
  "held-out": "heldOut",
  shift: "shift",
  ema: "ema",
  seed: "seed",
  "no-flip": "noFlip",
  data: "data",
};

const ints = (v: unknown, flag: string, fallback: readonly number[]): number[] => {
  if (v === undefined) return [...fallback];
  const xs = String(v)
    .split(",")
    .map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isInteger(x) || x < 1 || x > 4096))
    throw new UsageError(`${flag} must be a comma-separated list of integers in 1..4096, got '${v}'`);
  return xs;
};

/**
 * Step s's images and labels: the training split's epoch order and flips (as every training run), then
 * a random translation by up to `shift` pixels (white fill), drawn from stream "classifier/shift".
 */
export function classifierFeeds(o: {
  set: TrainingSet;
  batch: number;
  seed: number;
  flip: boolean;
  shift: number;
}): (step: number) => Record<string, Tensor> {
  const sampler = new BatchSampler(o.set.length, o.batch, o.seed);
  const [c, h, w] = o.set.shape;
  const size = c * h * w;
  const tmp = new Float32Array(size);
  return (step) => {
    const { indices, flips, epochs } = sampler.indices(step);
    const x = new Float32Array(o.batch * size);
    const y = new BigInt64Array(o.batch);
    const u = new Rng(o.seed).stream("classifier/shift", step).uniform(0, 2 * o.batch);
    for (let b = 0; b < o.batch; b++) {
      o.set.write(indices[b], o.flip && flips[b] === 1, tmp, 0, epochs[b]);
      y[b] = BigInt(o.set.label(indices[b]));
      const dx = Math.floor(u[2 * b] * (2 * o.shift + 1)) - o.shift;
      const dy = Math.floor(u[2 * b + 1] * (2 * o.shift + 1)) - o.shift;
      const off = b * size;
      for (let ch = 0; ch < c; ch++)
        for (let yy = 0; yy < h; yy++)
          for (let xx = 0; xx < w; xx++) {
            const sy = yy - dy;
            const sx = xx - dx;
            x[off + (ch * h + yy) * w + xx] =
              sy >= 0 && sy < h && sx >= 0 && sx < w ? tmp[(ch * h + sy) * w + sx] : 1;
          }
    }
    return { x: new Tensor("float32", [o.batch, c, h, w], x), y: new Tensor("int64", [o.batch], y) };
  };
}

export const trainClassifier: Command = {
  name: "train-classifier",
  summary: "train the emoji classifier behind FD-emoji and class agreement (eval --features emoji)",
  usage:
    "flowturbo train-classifier --out DIR --steps N [--widths 32,64,128,256 --blocks 1,2,2,1] [--batch 64] [--lr 2e-3]\n" +
    "  [--lr-schedule cosine:N --warmup W] [--weight-decay 0.05] [--label-smoothing 0.1] [--held-out 0.15] [--shift 2]\n" +
    "  [--data emoji:groups|emoji:categories] [--resume]\n" +
    "data: the emoji dataset with its 24 groups (default) or 9 categories, minus the held-out emoji (a hash of\n" +
    "  the emoji's short name: both fonts and all skin tones on one side); augmentation: flips and shifts by up\n" +
    "  to --shift pixels; files in DIR as train-base (model.safetensors, ema.safetensors: the classifier, with\n" +
    "  its held-out accuracy in the metadata)",
  examples: [
    "flowturbo train-classifier --out runs/emoji-classifier --steps 6000 --lr-schedule cosine:6000 --warmup 300",
    "flowturbo train-classifier --out runs/emoji-classifier --steps 8000 --resume",
  ],
  options: {
    ...commonTrainOptions(CLASSIFIER_DEFAULTS),
    widths: {
      type: "string",
      value: "LIST",
      help: "channels per stage, comma-separated",
      default: "32,64,128,256",
    },
    blocks: {
      type: "string",
      value: "LIST",
      help: "residual blocks per stage, comma-separated",
      default: "1,2,2,1",
    },
    "label-smoothing": { type: "string", value: "E", help: "label smoothing, in [0, 1]", default: "0.1" },
    "held-out": {
      type: "string",
      value: "F",
      help: "fraction of the emoji held out for the accuracy, in [0, 0.9]",
      default: "0.15",
    },
    shift: { type: "string", value: "PX", help: "random shifts by up to PX pixels", default: "2" },
  },
  async run(ctx) {
    const v = ctx.values;
    const { steps, checkpointEvery, threads } = runFlags(v);
    for (const flag of ["images", "latents", "synthetic", "label-drop"])
      if (v[flag] !== undefined) throw new UsageError(`--${flag} does not apply to train-classifier`);
    const now: Recipe = {
      kind: EMOJI_CLASSIFIER_KIND,
      widths: ints(v.widths, "--widths", EMOJI_CLASSIFIER_DEFAULTS.widths).join(","),
      blocks: ints(v.blocks, "--blocks", EMOJI_CLASSIFIER_DEFAULTS.blocks).join(","),
      batch: parseIntFlag(v.batch, "--batch", 1, MAX_TRAIN_BATCH) ?? CLASSIFIER_DEFAULTS.batch,
      lr: parseFloatFlag(v.lr, "--lr", 0, 1) ?? CLASSIFIER_DEFAULTS.lr,
      ...scheduleFlags(v),
      weightDecay:
        parseFloatFlag(v["weight-decay"], "--weight-decay", 0, 1) ?? CLASSIFIER_DEFAULTS.weightDecay,
      labelSmoothing:
        parseFloatFlag(v["label-smoothing"], "--label-smoothing", 0, 1) ?? CLASSIFIER_DEFAULTS.labelSmoothing,
      heldOut: parseFloatFlag(v["held-out"], "--held-out", 0, 0.9) ?? CLASSIFIER_DEFAULTS.heldOut,
      shift: parseIntFlag(v.shift, "--shift", 0, 16) ?? CLASSIFIER_DEFAULTS.shift,
      maxGradNorm: parseFloatFlag(v["max-grad-norm"], "--max-grad-norm", 0) ?? 0,
      ema: parseFloatFlag(v.ema, "--ema", 0, 1) ?? CLASSIFIER_DEFAULTS.ema,
      seed: parseIntFlag(v.seed, "--seed", 0) ?? 0,
      noFlip: v["no-flip"] === true,
      data: (v.data as string | undefined) ?? CLASSIFIER_DEFAULTS.data,
    };
    const { out, recipe } = await startOrResume(
      v,
      "train-classifier",
      EMOJI_CLASSIFIER_KIND,
      now,
      RECIPE_FLAGS,
    );
    const labelling = emojiDataSource(String(recipe.data));
    if (!labelling)
      throw new UsageError(`--data must be emoji:groups or emoji:categories, got '${recipe.data}'`);
    const data = await loadEmojiTrainingData(labelling);
    const split = emojiSplit(data.dataset, Number(recipe.heldOut));
    const config: EmojiClassifierConfig = {
      ...EMOJI_CLASSIFIER_DEFAULTS,
      widths: String(recipe.widths).split(",").map(Number),
      blocks: String(recipe.blocks).split(",").map(Number),
      numClasses: data.classNames.length,
    };
    if (config.widths.length !== config.blocks.length)
      throw new UsageError("--widths and --blocks need one entry per stage");
    const batch = Number(recipe.batch);
    const { schedule, lrInput } = recipeSchedule(recipe);
    let step: ReturnType<typeof emojiClassifierTrainingStep>;
    try {
      step = emojiClassifierTrainingStep(config, batch, {
        lr: Number(recipe.lr),
        lrInput,
        weightDecay: Number(recipe.weightDecay),
        maxGradNorm: Number(recipe.maxGradNorm) || undefined,
        emaDecay: Number(recipe.ema) || undefined,
        labelSmoothing: Number(recipe.labelSmoothing),
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const seed = Number(recipe.seed);
    const weights = emojiClassifierInitialWeights(step.graph, seed);
    const counts = { train: split.train.length, heldOut: split.heldOut.length };
    const accuracyOf = async (w: Map<string, Tensor>) => {
      const backend = createNodeBackend({ threads });
      const extractor = new EmojiFeatureExtractor(backend, {
        config,
        weights: w,
        classNames: data.classNames,
        sha256: "",
      });
      try {
        const acc = new AgreementAccumulator(config.numClasses);
        const images = data.dataset.images.data as Uint8Array;
        for (const { batch: b, labels } of uint8Batches(
          images,
          data.dataset.length,
          32,
          128,
          data.labels,
          split.heldOut,
        )) {
          const f = await extractor.extract(b);
          acc.add(argmaxRows(f.logits, config.numClasses), labels!);
        }
        return acc.result();
      } finally {
        await extractor.release();
        await backend.close();
      }
    };
    return runTraining(ctx, {
      command: "train-classifier",
      step,
      weights,
      feeds: classifierFeeds({
        set: subsetSet(data.set, split.train),
        batch,
        seed,
        flip: !recipe.noFlip,
        shift: Number(recipe.shift),
      }),
      steps,
      batch,
      threads,
      checkpointEvery,
      out,
      lr: lrInput ? (s) => lrAt(schedule, s) : undefined,
      metadata: {
        kind: EMOJI_CLASSIFIER_KIND,
        seed: String(seed),
        recipe: JSON.stringify(recipe),
        config: JSON.stringify(config),
        classes: JSON.stringify(data.classNames),
      },
      recipe,
      classNames: data.classNames,
      model: { kind: EMOJI_CLASSIFIER_KIND, config },
      summary: { config, parameters: step.graph.parameterCount(), data: recipe.data, images: counts },
      evaluate:
        split.heldOut.length === 0
          ? undefined
          : async (w) => {
              const model = await accuracyOf(w.model);
              const ema = await accuracyOf(w.ema);
              const held = {
                images: counts.heldOut,
                accuracy: model.rate,
                emaAccuracy: ema.rate,
                perClass: ema.perClass.map((c) => (c.n ? c.agree / c.n : null)),
              };
              ctx.stderr.write(
                `held-out accuracy (${counts.heldOut} images of unseen emoji): ${(100 * model.rate).toFixed(1)}% (EMA weights ${(100 * ema.rate).toFixed(1)}%)\n`,
              );
              return {
                metadata: { heldOut: JSON.stringify({ ...held, fraction: Number(recipe.heldOut) }) },
                summary: { heldOut: held },
              };
            },
    });
  },
};
