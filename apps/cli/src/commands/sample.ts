// `flowturbo sample`: generate with a FlowTurbo plan or a baseline solver.
import {
  COMPILE_LEVELS,
  type CompileLevel,
  type ExecutionProvider,
  type SamplingMethod,
  sample,
} from "@flowturbo/core";
import { createNodeBackend } from "@flowturbo/backend-node";
import { basename } from "node:path";
import { type FixedStepMethod, PlanError, parsePlan } from "@flowturbo/solvers";
import { labelsForSamples, readNpy, readSafetensors, Tensor } from "@flowturbo/tensor";
import { saveSafetensorsFile } from "@flowturbo/tensor/node";
import type { VaeDecoder } from "@flowturbo/vae";
import { readFile, stat } from "node:fs/promises";
import { type Command, EXIT, type Options, UsageError } from "../cli";
import { parseIntFlag, requireFile } from "../files";
import { imageOutput, openVaeDecoder, writeImages } from "../outputs";
import { embeddedModel } from "../embedded";
import { openCompiled } from "../models";
import { ProgressBar } from "../progress";
import { DEFAULT_SHARD_BATCH, parseShardFlags, runShard, shardSummaryBase } from "../sampleShard";
import { completeShardDir } from "../shards";

/** Plan presets from the paper. */
export const PLAN_PRESETS: Record<string, string> = { fast: "H1P5R3", quality: "H8P9R5" };
const SOLVERS = ["euler", "midpoint", "heun", "rk4", "rk4_38", "dopri5", "sde"] as const;
const BACKENDS: Record<string, ExecutionProvider> = { cpu: "cpu", cuda: "cuda", webgpu: "webgpu" };

function parseMethod(values: Record<string, unknown>): SamplingMethod {
  const solver = values.solver as string | undefined;
  const steps = parseIntFlag(values.steps, "--steps");
  if (solver) {
    if (values.plan)
      throw new UsageError("--plan and --solver are exclusive: a plan is FlowTurbo, a solver is a baseline");
    if (!(SOLVERS as readonly string[]).includes(solver))
      throw new UsageError(`--solver must be one of ${SOLVERS.join(", ")}, got '${solver}'`);
    if (solver === "dopri5") return { solver };
    if (solver === "sde") return { solver, steps };
    if (!steps) throw new UsageError(`--solver ${solver} needs --steps N`);
    return { solver: solver as FixedStepMethod, steps };
  }
  const plan = PLAN_PRESETS[(values.plan as string | undefined) ?? "fast"] ?? (values.plan as string);
  try {
    parsePlan(plan);
  } catch (e) {
    if (e instanceof PlanError)
      throw new UsageError(`--plan: ${e.message} (presets: fast = H1P5R3, quality = H8P9R5)`);
    throw e;
  }
  return { plan };
}

/**
 * --compile: none | model | block. Default: block for plans and Heun (what block graphs run), model
 * for the other solvers. Explicit block with another solver is a usage error.
 */
export function parseCompile(value: unknown, method: SamplingMethod): CompileLevel {
  const blockable = "plan" in method || method.solver === "heun";
  if (value === undefined) return blockable ? "block" : "model";
  if (!(COMPILE_LEVELS as readonly string[]).includes(String(value)))
    throw new UsageError(`--compile must be one of ${COMPILE_LEVELS.join(", ")}, got '${value}'`);
  if (value === "block" && !blockable) {
    const solver = (method as { solver: string }).solver;
    throw new UsageError(
      `--compile block runs FlowTurbo plans and Heun (--solver heun); use --compile model (or none) with --solver ${solver}`,
    );
  }
  return value as CompileLevel;
}

/** The plan a block-compiled method runs (Heun N = plan HN). */
export function blockPlan(method: SamplingMethod): string {
  if ("plan" in method) return method.plan;
  if (method.solver === "heun") return `H${method.steps}`;
  throw new Error(`no block plan for solver ${method.solver}`);
}

/**
 * Labels of the samples with global indices first .. first+count-1. --class: ids or (for models that
 * record them) class names, comma-separated; sample g gets list[g mod length]. Without --class: the
 * counter-based labelForSample(seed, g, numClasses), so a shard gets the same labels as the whole run.
 */
function parseClasses(
  value: unknown,
  first: number,
  count: number,
  numClasses: number,
  seed: number,
  names?: readonly string[],
): number[] {
  if (value === undefined) return Array.from(labelsForSamples(seed, first, count, numClasses));
  const ids = String(value)
    .split(",")
    .map((s) => s.trim());
  const out = ids.map((s) => {
    const byName = names?.findIndex((name) => name.toLowerCase() === s.toLowerCase()) ?? -1;
    if (byName >= 0) return byName;
    const c = Number(s);
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      const known = names?.length ? ` or one of: ${names.join(", ")}` : "";
      throw new UsageError(`--class: '${s}' is not a class id in 0..${numClasses - 1}${known}`);
    }
    return c;
  });
  return Array.from({ length: count }, (_, i) => out[(first + i) % out.length]);
}

async function readNoise(path: string, n: number, shape: readonly number[]): Promise<Float32Array> {
  const bytes = new Uint8Array(await readFile(path));
  let z: Tensor | undefined;
  if (path.endsWith(".npy")) z = await readNpy(bytes, { name: path });
  else {
    const { tensors } = await readSafetensors(bytes, { name: path });
    z = tensors.get("z");
    if (!z)
      throw new UsageError(`--noise ${path}: no tensor named 'z' (found ${[...tensors.keys()].join(", ")})`);
  }
  const want = [n, ...shape];
  if (z.shape.join(",") !== want.join(","))
    throw new UsageError(
      `--noise ${path}: 'z' has shape [${z.shape.join(", ")}], expected [${want.join(", ")}] (--n ${n})`,
    );
  return z.toFloat32();
}

/** The options that define a run's samples and shard outputs (`queue submit` passes them to every shard). */
export const SAMPLING_OPTIONS: Options = {
  base: { type: "string" },
  refiner: { type: "string" },
  plan: { type: "string" },
  solver: { type: "string" },
  steps: { type: "string" },
  cfg: { type: "string" },
  class: { type: "string" },
  seed: { type: "string" },
  batch: { type: "string" },
  backend: { type: "string" },
  heads: { type: "string" },
  vae: { type: "string" },
  "vae-config": { type: "string" },
  compile: { type: "string" },
  format: { type: "string" },
  inception: { type: "string" },
  "fid-input": { type: "string" },
};

export const sampleCommand: Command = {
  name: "sample",
  summary: "generate samples with a FlowTurbo plan (or a baseline solver)",
  usage:
    "flowturbo sample [--base MODEL --refiner MODEL --vae DIR] [--plan fast|quality|H1P5R3 | --solver heun --steps N] [--n N] [--class IDS|NAMES] [--seed S] [--cfg 1.5] [--compile none|model|block] [-o samples.png|samples.npz|DIR] [--latents-out FILE]  |  flowturbo sample (--shard k/K --total N | --range a:b [--total N]) -o RUN_DIR [--format png|npz] [--inception FILE [--fid-input uint8|float]] [sampling options]",
  examples: [
    "flowturbo sample                                   # the embedded emoji model, 16 samples -> samples.png",
    "flowturbo sample --class Flags,Symbols --n 8 --cfg 2 -o emoji.png",
    "flowturbo sample --base sit-xl-2.onnx --refiner refiner.onnx --vae sd-vae-ft-ema/ --plan fast --n 8 --class 207,360 --cfg 1.5 -o grid.png",
    "flowturbo sample --base sit-xl-2.onnx --refiner refiner.onnx --vae sd-vae-ft-ema/ --plan quality --n 50000 --batch 25 -o samples.npz",
    "flowturbo sample --base SiT-XL-2-256x256.pt --solver heun --steps 8 --n 4 --latents-out heun.safetensors",
    "flowturbo sample --base sit.pt --heads 4 --noise z.safetensors --n 2 --plan H1P2R2 --latents-out out.safetensors",
    "flowturbo sample --base sit-xl-2.onnx --refiner refiner.onnx --plan fast --compile model --n 8 --latents-out out.safetensors",
    "flowturbo sample --shard 3/8 --total 50000 --batch 25 --base sit-xl-2.onnx --refiner refiner.onnx --vae sd-vae-ft-ema/ --inception pt_inception-2015-12-05-6726825d.pth -o run/   # shard 3 of 8 of a 50k run -> run/shard-00018750-00025000/",
    "flowturbo sample --range 0:100 --total 1000 -o run/          # global samples 0..99 of a 1000-sample run (embedded model)",
  ],
  options: {
    ...SAMPLING_OPTIONS,
    n: { type: "string" },
    noise: { type: "string" },
    out: { type: "string", short: "o" },
    "latents-out": { type: "string" },
    "no-decode": { type: "boolean" },
    shard: { type: "string" },
    range: { type: "string" },
    total: { type: "string" },
  },
  async run(ctx) {
    const v = ctx.values;
    const nFlag = parseIntFlag(v.n, "--n");
    const seed = parseIntFlag(v.seed, "--seed", 0) ?? 0;
    const batch = parseIntFlag(v.batch, "--batch");
    const heads = parseIntFlag(v.heads, "--heads");
    const cfg = v.cfg === undefined ? 1 : Number(v.cfg);
    if (!Number.isFinite(cfg) || cfg < 0) throw new UsageError(`--cfg must be a number >= 0, got '${v.cfg}'`);
    const provider = BACKENDS[(v.backend as string | undefined) ?? "cpu"];
    if (!provider) throw new UsageError(`--backend must be cpu, cuda or webgpu, got '${v.backend}'`);
    const method = parseMethod(v);
    const level = parseCompile(v.compile, method);
    const shard = parseShardFlags(v);
    if (shard) {
      // a retried shard that was committed before: nothing to do
      const dir = await completeShardDir(shard.out, shard.range);
      if (dir) {
        const summary = { ...shardSummaryBase(shard), dir, alreadyComplete: true, duplicate: false };
        ctx.stdout.write(ctx.json ? `${JSON.stringify(summary)}\n` : `${dir} is complete already\n`);
        return EXIT.ok;
      }
    }
    // no model given: the embedded default (a small class-conditional SiT + refiner trained on emoji)
    let basePath = v.base as string | undefined;
    let refinerPath = v.refiner as string | undefined;
    let n = nFlag;
    if (!basePath) {
      const embedded = embeddedModel();
      if (!embedded) {
        throw new UsageError(
          "--base MODEL is required: the embedded default model (models/emoji/) was not found; set FLOWTURBO_MODEL_DIR or pass --base",
        );
      }
      basePath = embedded.base;
      refinerPath ??= embedded.refiner;
      n ??= 16;
    }
    if (shard) n = shard.range.end - shard.range.start;
    n ??= 1;
    const first = shard?.range.start ?? 0;
    // shard mode samples chunk by chunk (the block graphs are compiled for one chunk)
    // batches are slots of global indices (alignBatches): a run's samples depend on --batch, not on the split
    const chunk = shard ? (batch ?? DEFAULT_SHARD_BATCH) : undefined;
    const latentsOut = v["latents-out"] as string | undefined;
    const noDecode = v["no-decode"] === true;
    if (noDecode && !latentsOut)
      throw new UsageError("--no-decode needs --latents-out FILE (it writes no images)");
    // nothing asked for: a PNG grid in the current folder
    const out = shard
      ? undefined
      : ((v.out as string | undefined) ?? (latentsOut ? undefined : "samples.png"));
    if (noDecode && out) throw new UsageError("--no-decode writes no images: drop -o/--out or --no-decode");
    const output = out ? imageOutput(out) : undefined; // checked before any sampling
    if ("plan" in method && parsePlan(method.plan).counts.R > 0 && !refinerPath) {
      throw new UsageError(
        `--plan ${method.plan} has refiner (R) steps: pass --refiner MODEL, or use a plan without R`,
      );
    }
    const t0 = performance.now();
    const backend = createNodeBackend();
    try {
      const providers = [provider];
      const models = await openCompiled(backend, {
        base: basePath,
        refiner: refinerPath,
        heads,
        providers,
        level,
        block: {
          batch: chunk ?? batch ?? n,
          guided: cfg !== 1,
          plans: level === "block" ? [blockPlan(method)] : [],
        },
      });
      const c = models.config;
      const shape = [c.keepChannels, c.inputSize, c.inputSize];
      const labels = parseClasses(v.class, first, n, c.numClasses, seed, models.classNames);
      // the label of any global index (samples computed alongside a shard's in its first/last batch)
      const labelOf = (g: number) => parseClasses(v.class, g, 1, c.numClasses, seed, models.classNames)[0];
      const noise = v.noise
        ? await readNoise(await requireFile(v.noise as string, "--noise"), n, shape)
        : undefined;
      // pixel-space models (3 channels) produce images directly; latent models need the VAE
      let vae: VaeDecoder | undefined;
      if ((out || shard) && c.keepChannels !== 3) {
        if (!v.vae) {
          throw new UsageError(
            `this model generates ${c.keepChannels}-channel latents: pass --vae (a stabilityai/sd-vae-ft-ema folder) to write images, or --latents-out with --no-decode`,
          );
        }
        vae = await openVaeDecoder(backend, v.vae as string, {
          configPath: v["vae-config"] as string | undefined,
          latentSize: c.inputSize,
          providers,
        });
      }
      const decoder = vae;
      const request = {
        base: models.base,
        refiner: models.refiner,
        compile: level,
        blocks: models.blocks?.sessions,
        shape,
        nullClass: c.numClasses,
        method,
        seed,
        cfgScale: cfg,
        guidanceChannels: "sit" as const, // SiT/FlowTurbo's rule: channels 0..2 of the 4 latent channels
        decode: decoder ? (latents: Tensor) => decoder.decode(latents, { maxBatch: batch ?? 8 }) : undefined,
      };
      if (shard) {
        const fileId = async (path: string | undefined) =>
          path ? { file: basename(path), bytes: (await stat(path)).size } : null;
        const run = {
          base: await fileId(basePath),
          refiner: await fileId(refinerPath),
          vae: await fileId(v.vae as string | undefined),
          heads: heads ?? null,
          method,
          cfg,
          seed,
          class: (v.class as string | undefined) ?? null,
          batch: chunk,
          compile: level,
          backend: models.provider,
        };
        const summary = await runShard(ctx, {
          spec: shard,
          run,
          labels,
          batch: chunk!,
          backend,
          loadSeconds: (performance.now() - t0) / 1000,
          sampleChunk: async (firstIndex, chunkLabels) => {
            const r = await sample({
              ...request,
              labels: chunkLabels,
              firstIndex,
              batchSize: chunk,
              alignBatches: { labelOf },
            });
            return r.images ?? r.latents;
          },
        });
        await vae?.release();
        const s = summary as { dir: string; seconds: { total: number } };
        ctx.stdout.write(
          ctx.json
            ? `${JSON.stringify({ ...summary, method, cfg, seed, compile: level, provider: models.provider })}\n`
            : `samples ${shard.range.start}:${shard.range.end} of ${shard.total} -> ${s.dir} (${s.seconds.total.toFixed(1)} s)\n`,
        );
        return EXIT.ok;
      }
      const bar = new ProgressBar(ctx.stderr, "samples");
      const result = await sample({
        ...request,
        labels,
        batchSize: batch ?? n,
        // the same bits as any sharded run of this --batch (not with --noise: rows given as they are)
        alignBatches: noise ? undefined : { labelOf },
        noise,
        onProgress: (p) =>
          bar.update({
            done: p.done,
            total: p.total,
            detail:
              p.stage === "decoding"
                ? "decoding"
                : `step ${p.step} NFE ${p.nfe.base}${p.nfe.refiner ? `+${p.nfe.refiner}R` : ""}`,
          }),
      });
      bar.finish();
      await vae?.release();
      if (latentsOut) {
        const tensors = new Map([
          ["latents", result.latents],
          ["labels", Tensor.from("int64", [n], labels)],
        ]);
        await saveSafetensorsFile(latentsOut, tensors);
      }
      if (output) await writeImages(output, result.images ?? result.latents, labels);
      const summary = {
        samples: n,
        method,
        cfg,
        seed,
        compile: level,
        provider: models.provider,
        nfe: result.nfe,
        transfers: result.transfers ?? null,
        msPerSample: result.timings.sampling / n,
        latents: latentsOut ?? null,
        images: out ?? null,
        msDecodePerSample: result.timings.decoding / n,
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        const how = "plan" in method ? `plan ${method.plan}` : `${method.solver}`;
        ctx.stdout.write(
          `${n} samples with ${how}, cfg ${cfg}, seed ${seed} on ${summary.provider} (compile ${level}): NFE base ${result.nfe.base}, refiner ${result.nfe.refiner}; ${summary.msPerSample.toFixed(1)} ms/sample\nwrote ${[out, latentsOut].filter(Boolean).join(" and ")}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
};
