// `flowturbo train-base`: train a class-conditional SiT by flow matching (linear path, velocity loss,
// label dropout 0.1) on the emoji dataset or another image set; resumable checkpoints, JSONL log,
// progress on stderr.
import {
  baseFeeds,
  baseTrainingStep,
  lrAt,
  type SiTConfig,
  sitInitialWeights,
  type TimeSampling,
} from "@flowturbo/sit";
import { type Command, UsageError } from "../cli";
import { parseIntFlag } from "../flags";
import {
  COMMON_RECIPE_FLAGS,
  commonTrainOptions,
  dataFlagsOnResume,
  dataSourceFlag,
  optimizerRecipe,
  type Recipe,
  recipePath,
  recipeSchedule,
  runFlags,
  runTraining,
  startOrResume,
  trainingData,
  warmStart,
} from "../training";
const RECIPE_FLAGS = {
  ...COMMON_RECIPE_FLAGS,
  hidden: "hidden",
  depth: "depth",
  heads: "heads",
  patch: "patch",
  "t-sampling": "tSampling",
  init: "init",
};

/** The embedded model's default size (see models/emoji/README.md). */
export const BASE_DEFAULTS = {
  hidden: 128,
  depth: 5,
  heads: 2,
  patch: 4,
  batch: 32,
  lr: 2e-4,
  maxGradNorm: 1,
  ema: 0.999,
} as const;

export const trainBase: Command = {
  name: "train-base",
  summary: "train a class-conditional SiT (flow matching) on the emoji dataset or an image npz",
  usage:
    "flowturbo train-base --out DIR --steps N [--hidden D --depth L --heads H --patch P] [--batch B] [--lr LR]\n" +
    "  [--lr-schedule constant|cosine:H|linear:[S-]H[@MIN] --warmup W] [--t-sampling uniform|logit-normal]\n" +
    "  [--init MODEL (warm start: its weights; 9-category emoji models map onto the 24 groups; deeper is allowed)] [--resume]\n" +
    "defaults (the embedded emoji model's size and optimizer; its full recipe: models/emoji/README.md): --hidden 128 --depth 5 --heads 2 --patch 4 --batch 32 --lr 2e-4\n" +
    "  --max-grad-norm 1 --ema 0.999 --seed 0 --checkpoint-every 100; data: the emoji dataset (9 categories; --data\n" +
    "  emoji:groups for its 24 groups), or --data FILE.npz\n" +
    "  (uint8 images NHWC or float latents NCHW, labels), --images DIR (one subfolder per class, --image-size 32),\n" +
    "  --latents DIR (a latent cache of VAE posteriors: a fresh sample per draw),\n" +
    "  --synthetic N; files in DIR:\n" +
    "  checkpoint.safetensors (resume state), log.jsonl, model.safetensors and ema.safetensors (SiT weights)",
  examples: [
    "flowturbo train-base --out runs/emoji-base --steps 2000",
    "flowturbo train-base --out runs/emoji-base --steps 4000 --resume",
    "flowturbo train-base --out runs/tiny --steps 50 --hidden 64 --depth 2 --heads 2 --patch 8 --batch 16 --synthetic 512",
  ],
  options: {
    ...commonTrainOptions(BASE_DEFAULTS),
    hidden: { type: "string", value: "D", help: "width (a multiple of 4 and of --heads)", default: "128" },
    depth: { type: "string", value: "L", help: "transformer blocks", default: "5" },
    heads: { type: "string", value: "H", help: "attention heads", default: "2" },
    patch: { type: "string", value: "P", help: "patch size (divides the image size)", default: "4" },
    "t-sampling": {
      type: "string",
      value: "uniform|logit-normal",
      help: "how training times t are drawn",
      default: "uniform",
    },
    init: {
      type: "string",
      value: "MODEL",
      help: "warm start from a SiT model's weights (same width, patch and heads; as deep or deeper)",
    },
  },
  async run(ctx) {
    const v = ctx.values;
    const { steps, checkpointEvery, threads } = runFlags(v);
    const now: Recipe = {
      kind: "base",
      hidden: parseIntFlag(v.hidden, "--hidden", 1, 8192) ?? BASE_DEFAULTS.hidden,
      depth: parseIntFlag(v.depth, "--depth", 1, 256) ?? BASE_DEFAULTS.depth,
      heads: parseIntFlag(v.heads, "--heads", 1, 1024) ?? BASE_DEFAULTS.heads,
      patch: parseIntFlag(v.patch, "--patch", 1, 256) ?? BASE_DEFAULTS.patch,
      ...optimizerRecipe(v, BASE_DEFAULTS),
      tSampling: (v["t-sampling"] as string | undefined) ?? "uniform",
      init: v.init === undefined ? "" : recipePath(String(v.init), String(v.out ?? ".")),
      data: dataSourceFlag(v),
    };
    if (now.tSampling !== "uniform" && now.tSampling !== "logit-normal")
      throw new UsageError(`--t-sampling must be uniform or logit-normal, got '${now.tSampling}'`);
    const started = await startOrResume(v, "train-base", "base", now, RECIPE_FLAGS);
    const out = started.out;
    let recipe = started.recipe;
    const data = await trainingData(
      out.resume ? dataFlagsOnResume(v, String(recipe.data)) : v,
      undefined,
      Number(recipe.seed),
    );
    recipe = { ...recipe, data: data.source };
    const [c, h, w] = data.set.shape;
    if (h !== w) throw new UsageError(`training images must be square, got ${h}x${w}`);
    const hidden = Number(recipe.hidden);
    const heads = Number(recipe.heads);
    if (hidden % 4 !== 0) throw new UsageError(`--hidden must be a multiple of 4, got ${hidden}`);
    if (hidden % heads !== 0) throw new UsageError(`--hidden ${hidden} is not divisible by --heads ${heads}`);
    if (h % Number(recipe.patch) !== 0)
      throw new UsageError(`--patch ${recipe.patch} does not divide the image size ${h}`);
    const config: SiTConfig = {
      inputSize: h,
      patchSize: Number(recipe.patch),
      inChannels: c,
      outChannels: c,
      keepChannels: c,
      hiddenSize: hidden,
      depth: Number(recipe.depth),
      numHeads: heads,
      numClasses: data.set.numClasses,
      mlpRatio: 4,
    };
    const batch = Number(recipe.batch);
    const { schedule, lrInput } = recipeSchedule(recipe);
    const step = baseTrainingStep(config, batch, {
      lr: Number(recipe.lr),
      lrInput,
      weightDecay: Number(recipe.weightDecay),
      maxGradNorm: Number(recipe.maxGradNorm) || undefined,
      emaDecay: Number(recipe.ema),
    });
    const seed = Number(recipe.seed);
    const init = await warmStart(
      recipe,
      sitInitialWeights(step.graph, { seed }),
      data.classNames,
      { kind: "sit", config },
      out.dir,
    );
    recipe = init.recipe;
    const weights = init.weights;
    return runTraining(ctx, {
      command: "train-base",
      step,
      weights,
      feeds: baseFeeds({
        set: data.set,
        batch,
        seed,
        flip: !recipe.noFlip,
        labelDrop: Number(recipe.labelDrop),
        timeSampling: (recipe.tSampling as TimeSampling | undefined) ?? "uniform",
      }),
      steps,
      batch,
      threads,
      checkpointEvery,
      out,
      lr: lrInput ? (s) => lrAt(schedule, s) : undefined,
      metadata: {
        kind: "base",
        seed: String(seed),
        recipe: JSON.stringify(recipe),
        config: JSON.stringify(config),
        classes: JSON.stringify(data.classNames),
      },
      recipe,
      classNames: data.classNames,
      model: { kind: "sit", config },
      summary: { config, parameters: step.graph.parameterCount(), data: data.source },
    });
  },
};
