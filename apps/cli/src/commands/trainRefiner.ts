// `flowturbo train-refiner`: train FlowTurbo's velocity refiner against a frozen SiT teacher exactly as
// docs/FLOWTURBO.md section 5 (dt ~ U[0, 0.12) per batch, label drop 0.1 shared by the student and the
// second teacher call; AdamW lr 5e-5, no weight decay, batch 18, EMA 0.9999 by default).
import { basename } from "node:path";
import { refinerConfig, refinerFeeds, refinerTrainingStep, STUDENT, TEACHER } from "@flowturbo/refiner";
import { lrAt, type SiTConfig, sitInitialWeights } from "@flowturbo/sit";
import { emojiDataSource } from "@flowturbo/sit/node";
import type { Tensor } from "@flowturbo/tensor";
import { type Command, UsageError } from "../cli";
import { requireFile, sha256File } from "../files";
import { parseFloatFlag, parseIntFlag } from "../flags";
import { readCheckpoint } from "../models";
import {
  COMMON_RECIPE_FLAGS,
  commonTrainOptions,
  dataFlagsOnResume,
  dataSourceFlag,
  optimizerRecipe,
  type Recipe,
  recipePath,
  recipeSchedule,
  resolveRecipePath,
  runFlags,
  runTraining,
  startOrResume,
  trainingData,
  warmStart,
} from "../training";

/** The paper's refiner recipe (docs/FLOWTURBO.md section 5). */
export const REFINER_DEFAULTS = {
  lr: 5e-5,
  weightDecay: 0,
  batch: 18,
  ema: 0.9999,
  dtMax: 0.12,
  depth: 1,
} as const;

const RECIPE_FLAGS = {
  ...COMMON_RECIPE_FLAGS,
  depth: "depth",
  "dt-max": "dtMax",
  teacher: "teacher",
  "class-map": "data",
  init: "init",
};

/** The emoji data source (emoji:groups...) recorded in a teacher's training recipe, if any. */
function teacherEmojiData(teacher: { metadata?: Record<string, string> }): string | undefined {
  try {
    const data = (JSON.parse(teacher.metadata?.recipe ?? "{}") as { data?: string }).data;
    return emojiDataSource(data) ? data : undefined;
  } catch {
    return undefined;
  }
}

export const trainRefiner: Command = {
  name: "train-refiner",
  summary: "train FlowTurbo's velocity refiner against a frozen SiT teacher",
  usage:
    "flowturbo train-refiner --teacher SIT --out DIR --steps N [--batch 18] [--lr 5e-5] [--resume]\n" +
    "defaults (FlowTurbo's recipe): --depth 1 --batch 18 --lr 5e-5 --weight-decay 0 --ema 0.9999 --dt-max 0.12\n" +
    "  --label-drop 0.1, data: the emoji dataset, or --data / --images / --latents DIR (a latent cache) as in\n" +
    "  train-base (default: the teacher's emoji labelling, e.g. emoji:groups, when its recipe records one);\n" +
    "  --init REFINER: warm start from a refiner (9-category emoji refiners map onto the 24 groups); files in DIR\n" +
    "  as train-base (model.safetensors: the refiner)",
  examples: [
    "flowturbo train-refiner --teacher runs/emoji-base/ema.safetensors --out runs/emoji-refiner --steps 1500",
    "flowturbo train-refiner --out runs/emoji-refiner --steps 3000 --resume",
    "flowturbo train-refiner --teacher SiT-XL-2-256x256.pt --latents imagenet-latents/ --out runs/xl-refiner --steps 100000",
    "flowturbo train-refiner --teacher my-sit.safetensors --heads 8 --out runs/r --steps 100 --data my-images.npz",
  ],
  options: {
    ...commonTrainOptions(REFINER_DEFAULTS),
    teacher: {
      type: "string",
      value: "SIT",
      help: "the frozen SiT base model (required for a new run; recorded relative to --out)",
    },
    heads: {
      type: "string",
      value: "N",
      help: "the teacher's attention heads, for a width outside SiT's table that it does not record",
    },
    depth: { type: "string", value: "L", help: "the refiner's transformer blocks", default: "1" },
    "dt-max": {
      type: "string",
      value: "DT",
      help: "training step sizes dt ~ U[0, DT), in [0, 1]",
      default: "0.12",
    },
    /** --images only: how folder names map to the teacher's classes (file, "imagenet" or "folder-order"). */
    "class-map": {
      type: "string",
      value: "FILE|imagenet|folder-order",
      help: "--images: how folder names map to the teacher's classes",
    },
    init: {
      type: "string",
      value: "REFINER",
      help: "warm start from a refiner's weights (9-category emoji refiners map onto the 24 groups)",
    },
  },
  async run(ctx) {
    const v = ctx.values;
    const { steps, checkpointEvery, threads } = runFlags(v);
    const heads = parseIntFlag(v.heads, "--heads", 1, 1024);
    const now: Recipe = {
      kind: "refiner",
      teacher: v.teacher === undefined ? "" : recipePath(String(v.teacher), String(v.out ?? ".")),
      depth: parseIntFlag(v.depth, "--depth", 1, 256) ?? REFINER_DEFAULTS.depth,
      ...optimizerRecipe(v, REFINER_DEFAULTS),
      dtMax: parseFloatFlag(v["dt-max"], "--dt-max", 0, 1) ?? REFINER_DEFAULTS.dtMax,
      init: v.init === undefined ? "" : recipePath(String(v.init), String(v.out ?? ".")),
      data: dataSourceFlag(v),
    };
    if (!v.resume && !v.teacher) throw new UsageError("--teacher SIT is required (the frozen base model)");
    const started = await startOrResume(v, "train-refiner", "refiner", now, RECIPE_FLAGS);
    const out = started.out;
    let recipe = started.recipe;
    const teacherPath = await requireFile(resolveRecipePath(String(recipe.teacher), out.dir), "--teacher");
    const teacherSha = await sha256File(teacherPath);
    if (recipe.teacherSha256 && recipe.teacherSha256 !== teacherSha)
      throw new UsageError(
        `--resume: the teacher ${teacherPath} changed since the run started (sha256 differs)`,
      );
    recipe = { ...recipe, teacherSha256: teacherSha };
    // the kind is checked, not assumed: a refiner given as the teacher is refused by name
    const teacher = await readCheckpoint(teacherPath, "--teacher", heads, "sit");
    // no data flags: the teacher's own emoji labelling (e.g. emoji:groups) when its recipe names one
    const teacherData = teacherEmojiData(teacher);
    if (
      !out.resume &&
      teacherData &&
      ["data", "images", "latents", "synthetic"].every((k) => v[k] === undefined)
    )
      recipe = { ...recipe, data: teacherData };
    const data = await trainingData(
      out.resume || teacherData ? dataFlagsOnResume(v, String(recipe.data)) : v,
      teacher.config.numClasses,
      Number(recipe.seed),
    );
    const tc = teacher.config;
    const [c, h] = data.set.shape;
    if (tc.keepChannels !== c || tc.inputSize !== h)
      throw new UsageError(
        `--teacher ${basename(teacherPath)} models ${tc.keepChannels}x${tc.inputSize}x${tc.inputSize} inputs, the data is ${data.set.shape.join("x")}`,
      );
    if (tc.numClasses !== data.set.numClasses)
      throw new UsageError(
        `--teacher ${basename(teacherPath)} has ${tc.numClasses} classes, the data has ${data.set.numClasses}`,
      );
    const student: SiTConfig = { ...refinerConfig(tc), depth: Number(recipe.depth) };
    const batch = Number(recipe.batch);
    const { schedule, lrInput } = recipeSchedule(recipe);
    const step = refinerTrainingStep(tc, student, batch, {
      lr: Number(recipe.lr),
      lrInput,
      weightDecay: Number(recipe.weightDecay),
      maxGradNorm: Number(recipe.maxGradNorm) || undefined,
      emaDecay: Number(recipe.ema),
    });
    const seed = Number(recipe.seed);
    const init = await warmStart(
      recipe,
      sitInitialWeights(step.graph, { seed, prefix: STUDENT }),
      data.classNames,
      {
        kind: "refiner",
        config: student,
        prefix: STUDENT,
      },
      out.dir,
    );
    recipe = init.recipe;
    const weights = new Map<string, Tensor>(init.weights);
    for (const [k, t] of teacher.weights) weights.set(`${TEACHER}.${k}`, t);
    return runTraining(ctx, {
      command: "train-refiner",
      step,
      weights,
      feeds: refinerFeeds({
        set: data.set,
        batch,
        seed,
        flip: !recipe.noFlip,
        labelDrop: Number(recipe.labelDrop),
        dtMax: Number(recipe.dtMax),
      }),
      steps,
      batch,
      threads,
      checkpointEvery,
      out,
      lr: lrInput ? (s) => lrAt(schedule, s) : undefined,
      metadata: {
        kind: "refiner",
        seed: String(seed),
        recipe: JSON.stringify(recipe),
        config: JSON.stringify(student),
        teacherConfig: JSON.stringify(tc),
        classes: JSON.stringify(data.classNames),
      },
      recipe,
      classNames: data.classNames,
      model: { kind: "refiner", config: student, prefix: STUDENT },
      summary: {
        config: student,
        parameters: [...step.graph.params.keys()]
          .filter((k) => k.startsWith(`${STUDENT}.`))
          .reduce((n, k) => n + step.graph.params.get(k)!.value.shape.reduce((a, b) => a * b, 1), 0),
        teacher: teacherPath,
        data: data.source,
      },
      modelNote: " (FlowTurbo uses these non-EMA weights)",
    });
  },
};
