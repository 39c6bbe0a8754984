// `flowturbo sample`: generate with a FlowTurbo plan or a baseline solver: flags -> @flowturbo/pipeline's
// FlowTurboPipeline -> image/latent writers (or a shard folder).
import { basename } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import {
  checkRequest,
  DEFAULT_BATCH,
  defaultCompileLevel,
  type GenerateParams,
  MAX_BATCH,
  MAX_SAMPLES,
  methodLabel,
  PLAN_PRESETS,
  type SamplingMethod,
} from "@flowturbo/pipeline";
import { readNpy, readSafetensors, type Tensor } from "@flowturbo/tensor";
import { readFile, stat } from "node:fs/promises";
import { type Command, EXIT, type Options, UsageError } from "../cli";
import { embeddedModel, embeddedModelCfg } from "../embedded";
import { checkOutputFile, checkOutputFolder, requireFile } from "../files";
import { backendFlag, classFlag, compileFlag, methodFlags, parseIntFlag, refuseProblems } from "../flags";
import { openPipeline } from "../models";
import { checkImageOutput } from "../outputs";
import { runPlainSamples } from "../sampleRun";
import { DEFAULT_SHARD_BATCH, parseShardFlags, runShard, shardSummaryBase } from "../sampleShard";
import { completeShardDir } from "../shards";

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

/** "12 samples with plan H1P5R3" */
function describe(n: number, m: SamplingMethod): string {
  return `${n} samples with ${m.kind === "plan" ? methodLabel(m) : m.kind === "fixed" ? m.solver : m.kind}`;
}

/** --cfg's default, as --help says it: the model's recommendation, and the embedded model's. */
export function cfgDefault(): string {
  const embedded = embeddedModelCfg();
  return `the model's recommended scale (its flowturbo.sampling metadata; the embedded model: ${embedded ?? "none recorded, so 1"}), else 1`;
}

/** The options that define a run's samples and shard outputs (`queue submit` passes them to every shard). */
export const SAMPLING_OPTIONS: Options = {
  base: {
    type: "string",
    value: "MODEL",
    help: "the SiT base model (.pt, .safetensors or a converted .onnx)",
    default: "the embedded emoji model (models/emoji)",
  },
  refiner: {
    type: "string",
    value: "MODEL",
    help: "the FlowTurbo velocity refiner, needed by plans with R blocks",
    default: "the embedded refiner with the embedded model, else none",
  },
  plan: {
    type: "string",
    value: "PLAN",
    help: `a FlowTurbo plan: H{a}P{b}R{c} (Heun, pseudo-corrector, refiner steps), fast = ${PLAN_PRESETS.fast} or quality = ${PLAN_PRESETS.quality}`,
    default: "fast",
  },
  solver: {
    type: "string",
    value: "NAME",
    help: "a baseline instead of a plan: euler, midpoint, heun, rk4, rk4_38, dopri5 or sde",
  },
  steps: {
    type: "string",
    value: "N",
    help: "steps of --solver (1..1000; sde: grid points)",
    default: "sde 250; the others need it",
  },
  cfg: {
    type: "string",
    value: "S",
    help: "classifier-free guidance scale, 0..100 (1 = no guidance)",
    default: cfgDefault,
  },
  class: {
    type: "string",
    value: "IDS|NAMES",
    help: "class ids or names, comma-separated; sample i gets the (i mod count)-th",
    default: "a class per sample drawn from (seed, i)",
  },
  seed: { type: "string", value: "S", help: "noise seed: sample i is a function of (seed, i)", default: "0" },
  batch: {
    type: "string",
    value: "B",
    help: `samples per model call (1..${MAX_BATCH}); part of a run's definition (another batch agrees to ~1e-5)`,
    default: `min(n, ${DEFAULT_BATCH}); ${DEFAULT_SHARD_BATCH} with --shard/--range`,
  },
  backend: { type: "string", value: "NAME", help: "execution provider: cpu, cuda or webgpu", default: "cpu" },
  heads: {
    type: "string",
    value: "N",
    help: "attention heads, for checkpoints of a non-standard width that do not record them",
  },
  vae: {
    type: "string",
    value: "DIR|FILE",
    help: "the VAE of a latent model: a diffusers folder (stabilityai/sd-vae-ft-ema) or its .safetensors",
  },
  "vae-config": { type: "string", value: "FILE", help: "the VAE's diffusers config.json", default: "SD's" },
  compile: {
    type: "string",
    value: "LEVEL",
    help: "none (eager), model (ORT optimizations) or block (one graph per H/P/R block)",
    default: "block for plans and Heun, else model",
  },
  format: { type: "string", value: "png|npz", help: "--shard/--range: the shard's images", default: "png" },
  inception: {
    type: "string",
    value: "FILE",
    help: "--shard/--range: also the shard's Inception feature moments (pt_inception-2015-12-05-6726825d.pth)",
  },
  "fid-input": {
    type: "string",
    value: "uint8|float",
    help: "--inception: features of the 8-bit images written, or of the float output",
    default: "uint8",
  },
};

export const sampleCommand: Command = {
  name: "sample",
  summary: "generate samples with a FlowTurbo plan (or a baseline solver)",
  usage:
    "flowturbo sample [--base MODEL --refiner MODEL --vae DIR] [--plan fast|quality|H1P5R3 | --solver heun --steps N] [--n N] [--class IDS|NAMES] [--seed S] [--cfg S] [--batch B] [--compile none|model|block] [-o samples.png|samples.npz|DIR] [--latents-out FILE]  |  flowturbo sample (--shard k/K --total N | --range a:b [--total N]) -o RUN_DIR [--format png|npz] [--inception FILE [--fid-input uint8|float]] [sampling options]\n" +
    "Outputs appear complete or not at all: files are written under a temporary name and renamed, a folder of PNGs\n" +
    "  gets flowturbo-samples.json (complete: true) after its last image; samples are written batch by batch.",
  examples: [
    "flowturbo sample                                   # the embedded emoji model, 16 samples -> samples.png",
    "flowturbo sample --class flags,faces --n 8 --cfg 2 -o emoji.png",
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
    n: {
      type: "string",
      value: "N",
      help: `number of samples (1..${MAX_SAMPLES})`,
      default: "16 with the embedded model, else 1",
    },
    noise: {
      type: "string",
      value: "FILE",
      help: "start from this noise: .npy or safetensors tensor 'z' of shape [n, C, H, W]",
    },
    out: {
      type: "string",
      short: "o",
      value: "PATH",
      help: "images: a .png grid (at most 1024), an ADM .npz, or a folder of PNGs (a path without extension or ending in /, with flowturbo-samples.json written last)",
      default: "samples.png unless --latents-out is given",
    },
    "latents-out": {
      type: "string",
      value: "FILE",
      help: "also the raw samples: safetensors 'latents' [n, C, H, W] and 'labels'",
    },
    "no-decode": { type: "boolean", help: "with --latents-out: write latents only, no images" },
    shard: {
      type: "string",
      value: "k/K",
      help: "sample shard k of K of a run of --total samples into -o RUN_DIR",
    },
    range: { type: "string", value: "a:b", help: "sample global samples a..b-1 into -o RUN_DIR" },
    total: { type: "string", value: "N", help: "--shard/--range: samples in the whole run" },
  },
  async run(ctx) {
    const v = ctx.values;
    const nFlag = parseIntFlag(v.n, "--n");
    const seed = parseIntFlag(v.seed, "--seed", 0) ?? 0;
    const batch = parseIntFlag(v.batch, "--batch");
    const heads = parseIntFlag(v.heads, "--heads", 1, 1024);
    if (v.cfg !== undefined && !Number.isFinite(Number(v.cfg)))
      throw new UsageError(`--cfg must be a number, got '${v.cfg}'`);
    const provider = backendFlag(v.backend);
    const method = methodFlags(v);
    const compile = compileFlag(v.compile);
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
    // batches are slots of global indices (alignBatches): a run's samples depend on --batch, not on the
    // split; shard mode samples chunk by chunk (the block graphs are compiled for one chunk)
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
    // the rules that need no model, before loading one
    refuseProblems(
      checkRequest({
        method,
        compile: compile ?? defaultCompileLevel(method),
        cfg: v.cfg === undefined ? 1 : Number(v.cfg),
        seed,
        samples: n,
        batch: chunk ?? batch ?? Math.min(n, DEFAULT_BATCH),
      }),
    );
    // every output checked before any work
    if (shard) await checkOutputFolder(shard.out, "-o");
    const output = out ? await checkImageOutput(out, n) : undefined;
    if (latentsOut) await checkOutputFile(latentsOut, "--latents-out");
    const t0 = performance.now();
    const backend = createNodeBackend();
    try {
      const providers = [provider];
      const opened = await openPipeline(backend, {
        base: basePath,
        refiner: refinerPath,
        heads,
        vae: v.vae as string | undefined,
        vaeConfig: v["vae-config"] as string | undefined,
        images: out !== undefined || shard !== undefined,
        providers,
      });
      const { pipeline } = opened;
      // no --cfg: the model's recommended scale (its "flowturbo.sampling" metadata), else 1 (no guidance)
      const cfg = v.cfg === undefined ? (pipeline.defaults.cfg ?? 1) : Number(v.cfg);
      const c = pipeline.config;
      const labels = classFlag(v.class, first, n, c.numClasses, seed, pipeline.classNames);
      // the label of any global index (samples computed alongside a shard's in its first/last batch)
      const labelOf = (g: number) => classFlag(v.class, g, 1, c.numClasses, seed, pipeline.classNames)[0];
      const noise = v.noise
        ? await readNoise(await requireFile(v.noise as string, "--noise"), n, pipeline.sampleShape)
        : undefined;
      const request: GenerateParams = {
        method,
        labels,
        cfg,
        seed,
        compile,
        batch: chunk ?? batch, // default: the pipeline's bounded batch (DEFAULT_BATCH)
        // the same bits as any sharded run of this --batch (not with --noise: rows given as they are)
        alignBatches: noise ? undefined : { labelOf },
        noise,
        decode: out !== undefined || shard !== undefined,
      };
      refuseProblems(pipeline.check(request));
      const level = pipeline.compileLevel(request);
      if (shard) {
        const fileId = async (path: string | undefined) =>
          path ? { file: basename(path), bytes: (await stat(path)).size } : null;
        const run = {
          base: await fileId(basePath),
          refiner: await fileId(refinerPath),
          vae: await fileId(v.vae as string | undefined),
          heads: heads ?? null,
          method: method.spec,
          cfg,
          seed,
          class: (v.class as string | undefined) ?? null,
          batch: chunk,
          compile: level,
          backend: provider,
        };
        const summary = await runShard(ctx, {
          spec: shard,
          run,
          labels,
          batch: chunk!,
          backend,
          loadSeconds: (performance.now() - t0) / 1000,
          sampleChunk: async (firstIndex, chunkLabels) => {
            const r = await pipeline.generate({ ...request, labels: chunkLabels, firstIndex });
            return r.images ?? r.latents;
          },
        });
        await opened.release();
        const s = summary as { dir: string; seconds: { total: number } };
        ctx.stdout.write(
          ctx.json
            ? `${JSON.stringify({ ...summary, method: method.spec, cfg, seed, compile: level, provider })}\n`
            : `samples ${shard.range.start}:${shard.range.end} of ${shard.total} -> ${s.dir} (${s.seconds.total.toFixed(1)} s)\n`,
        );
        return EXIT.ok;
      }
      const result = await runPlainSamples(ctx, {
        pipeline,
        file: opened.file,
        request,
        images: output,
        latents: latentsOut,
      });
      await opened.release();
      const summary = {
        samples: n,
        method: method.spec,
        cfg,
        seed,
        batch: pipeline.batchSize(request),
        compile: level,
        provider: result.provider,
        /** Model calls per sample (each batch's calls; the mean over samples when batches differ). */
        nfe: result.nfe,
        transfers: result.transfers,
        msPerSample: result.msSampling / n,
        latents: latentsOut ?? null,
        images: out ?? null,
        msDecodePerSample: result.msDecode / n,
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        ctx.stdout.write(
          `${describe(n, method)}, cfg ${cfg}, seed ${seed} on ${summary.provider} (compile ${level}): NFE per sample base ${result.nfe.base}, refiner ${result.nfe.refiner}; ${summary.msPerSample.toFixed(1)} ms/sample\nwrote ${[out, latentsOut].filter(Boolean).join(" and ")}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
};
