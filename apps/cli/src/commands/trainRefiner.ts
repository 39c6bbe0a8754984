// `flowturbo train-refiner`: train FlowTurbo's velocity refiner against a frozen SiT teacher exactly as
// docs/FLOWTURBO.md section 5 (dt ~ U[0, 0.12) per batch, label drop 0.1 shared by the student and the
// second teacher call; AdamW lr 5e-5, no weight decay, batch 18, EMA 0.9999 by default).
import { basename } from "node:path";
import {
  refinerConfig,
  refinerFeeds,
  refinerTrainingStep,
  type SiTConfig,
  STUDENT,
  sitInitialWeights,
  TEACHER,
} from "@flowturbo/refiner";
import { loadModelFile, readTrainCheckpointFile } from "@flowturbo/refiner/node";
import type { Tensor } from "@flowturbo/tensor";
import { type Command, UsageError } from "../cli";
import { parseIntFlag, requireFile, sha256File } from "../files";
import {
  COMMON_TRAIN_OPTIONS,
  dataFlagsOnResume,
  dataSourceFlag,
  givenFlags,
  outFolder,
  parseFloatFlag,
  type Recipe,
  resumeRecipe,
  runTraining,
  trainingData,
} from "./trainBase";

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
  depth: "depth",
  batch: "batch",
  lr: "lr",
  "weight-decay": "weightDecay",
  "max-grad-norm": "maxGradNorm",
  ema: "ema",
  seed: "seed",
  "label-drop": "labelDrop",
  "no-flip": "noFlip",
  "dt-max": "dtMax",
  data: "data",
  synthetic: "data",
  images: "data",
  "image-size": "data",
  "class-map": "data",
  teacher: "teacher",
};

export const trainRefiner: Command = {
  name: "train-refiner",
  summary: "train FlowTurbo's velocity refiner against a frozen SiT teacher",
  usage:
    "flowturbo train-refiner --teacher SIT --out DIR --steps N [--batch 18] [--lr 5e-5] [--resume]\n" +
    "defaults (FlowTurbo's recipe): --depth 1 --batch 18 --lr 5e-5 --weight-decay 0 --ema 0.9999 --dt-max 0.12\n" +
    "  --label-drop 0.1, data: the emoji dataset, or --data / --images / --latents DIR (a latent cache) as in\n" +
    "  train-base; files in DIR as train-base (model.safetensors: the refiner)",
  examples: [
    "flowturbo train-refiner --teacher runs/emoji-base/ema.safetensors --out runs/emoji-refiner --steps 1500",
    "flowturbo train-refiner --out runs/emoji-refiner --steps 3000 --resume",
    "flowturbo train-refiner --teacher SiT-XL-2-256x256.pt --latents imagenet-latents/ --out runs/xl-refiner --steps 100000",
    "flowturbo train-refiner --teacher my-sit.safetensors --heads 8 --out runs/r --steps 100 --data my-images.npz",
  ],
  options: {
    ...COMMON_TRAIN_OPTIONS,
    teacher: { type: "string" },
    heads: { type: "string" },
    depth: { type: "string" },
    "dt-max": { type: "string" },
    /** --images only: how folder names map to the teacher's classes (file, "imagenet" or "folder-order"). */
    "class-map": { type: "string" },
  },
  async run(ctx) {
    const v = ctx.values;
    const steps = parseIntFlag(v.steps, "--steps");
    if (!steps) throw new UsageError("--steps N is required (the total number of optimizer steps)");
    const checkpointEvery = parseIntFlag(v["checkpoint-every"], "--checkpoint-every") ?? 100;
    const threads = parseIntFlag(v.threads, "--threads");
    const heads = parseIntFlag(v.heads, "--heads");
    const now: Recipe = {
      kind: "refiner",
      teacher: (v.teacher as string | undefined) ?? "",
      depth: parseIntFlag(v.depth, "--depth") ?? REFINER_DEFAULTS.depth,
      batch: parseIntFlag(v.batch, "--batch") ?? REFINER_DEFAULTS.batch,
      lr: parseFloatFlag(v.lr, "--lr", 0, 1) ?? REFINER_DEFAULTS.lr,
      weightDecay: parseFloatFlag(v["weight-decay"], "--weight-decay", 0, 1) ?? REFINER_DEFAULTS.weightDecay,
      maxGradNorm: parseFloatFlag(v["max-grad-norm"], "--max-grad-norm", 0) ?? 0,
      ema: parseFloatFlag(v.ema, "--ema", 0, 1) ?? REFINER_DEFAULTS.ema,
      seed: parseIntFlag(v.seed, "--seed", 0) ?? 0,
      labelDrop: parseFloatFlag(v["label-drop"], "--label-drop", 0, 1) ?? 0.1,
      dtMax: parseFloatFlag(v["dt-max"], "--dt-max", 0, 1) ?? REFINER_DEFAULTS.dtMax,
      noFlip: v["no-flip"] === true,
      data: dataSourceFlag(v),
    };
    if (!v.resume && !v.teacher) throw new UsageError("--teacher SIT is required (the frozen base model)");
    const out = await outFolder(v);
    let recipe = now;
    if (out.resume) {
      const saved = await readTrainCheckpointFile(out.checkpoint);
      if (saved.metadata.kind !== "refiner")
        throw new UsageError(
          `--resume: ${out.checkpoint} is a ${saved.metadata.kind ?? "unknown"} run, not train-refiner`,
        );
      recipe = resumeRecipe(saved.metadata.recipe, now, givenFlags(v, RECIPE_FLAGS));
    }
    const teacherPath = await requireFile(String(recipe.teacher), "--teacher");
    const teacherSha = await sha256File(teacherPath);
    if (recipe.teacherSha256 && recipe.teacherSha256 !== teacherSha)
      throw new UsageError(
        `--resume: the teacher ${teacherPath} changed since the run started (sha256 differs)`,
      );
    recipe = { ...recipe, teacherSha256: teacherSha };
    let teacher: Awaited<ReturnType<typeof loadModelFile>>;
    try {
      teacher = await loadModelFile(teacherPath, { heads, kind: "sit" });
    } catch (e) {
      throw new UsageError(`--teacher: ${(e as Error).message}`);
    }
    const data = await trainingData(
      out.resume ? dataFlagsOnResume(v, String(recipe.data)) : v,
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
    const step = refinerTrainingStep(tc, student, batch, {
      lr: Number(recipe.lr),
      weightDecay: Number(recipe.weightDecay),
      maxGradNorm: Number(recipe.maxGradNorm) || undefined,
      emaDecay: Number(recipe.ema),
    });
    const seed = Number(recipe.seed);
    const weights = new Map<string, Tensor>(sitInitialWeights(step.graph, { seed, prefix: STUDENT }));
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
