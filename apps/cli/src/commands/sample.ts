// `flowturbo sample`: generate with a FlowTurbo plan or a baseline solver: flags -> @flowturbo/pipeline's
// FlowTurboPipeline -> image/latent writers (or a shard folder).
import { basename } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import {
  checkRequest,
  DEFAULT_BATCH,
  defaultCompileLevel,
  type GenerateParams,
  methodLabel,
  type SamplingMethod,
} from "@flowturbo/pipeline";
import { readNpy, readSafetensors, Tensor } from "@flowturbo/tensor";
import { saveSafetensorsFile } from "@flowturbo/tensor/node";
import { readFile, stat } from "node:fs/promises";
import { type Command, EXIT, type Options, UsageError } from "../cli";
import { embeddedModel } from "../embedded";
import { requireFile } from "../files";
import { backendFlag, classFlag, compileFlag, methodFlags, parseIntFlag, refuseProblems } from "../flags";
import { openPipeline } from "../models";
import { imageOutput, writeImages } from "../outputs";
import { ProgressBar } from "../progress";
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
    "flowturbo sample [--base MODEL --refiner MODEL --vae DIR] [--plan fast|quality|H1P5R3 | --solver heun --steps N] [--n N] [--class IDS|NAMES] [--seed S] [--cfg S (default: the model's recommended scale from its metadata, else 1 = no guidance)] [--compile none|model|block] [-o samples.png|samples.npz|DIR] [--latents-out FILE]  |  flowturbo sample (--shard k/K --total N | --range a:b [--total N]) -o RUN_DIR [--format png|npz] [--inception FILE [--fid-input uint8|float]] [sampling options]",
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
    if (v.cfg !== undefined && !(Number.isFinite(Number(v.cfg)) && Number(v.cfg) >= 0))
      throw new UsageError(`--cfg must be a number >= 0, got '${v.cfg}'`);
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
    const output = out ? imageOutput(out) : undefined; // checked before any sampling
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
      const bar = new ProgressBar(ctx.stderr, "samples");
      const result = await pipeline.generate(request, {
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
      await opened.release();
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
        method: method.spec,
        cfg,
        seed,
        compile: level,
        provider: result.provider,
        nfe: result.nfe,
        transfers: result.transfers ?? null,
        msPerSample: result.timings.sampling / n,
        latents: latentsOut ?? null,
        images: out ?? null,
        msDecodePerSample: result.timings.decode / n,
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        ctx.stdout.write(
          `${describe(n, method)}, cfg ${cfg}, seed ${seed} on ${summary.provider} (compile ${level}): NFE base ${result.nfe.base}, refiner ${result.nfe.refiner}; ${summary.msPerSample.toFixed(1)} ms/sample\nwrote ${[out, latentsOut].filter(Boolean).join(" and ")}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
};
