// `flowturbo sample`: generate with a FlowTurbo plan or a baseline solver.
import { type ExecutionProvider, type SamplingMethod, sample } from "@flowturbo/core";
import { createNodeBackend } from "@flowturbo/backend-node";
import { type FixedStepMethod, PlanError, parsePlan } from "@flowturbo/solvers";
import { readNpy, readSafetensors, Tensor } from "@flowturbo/tensor";
import { saveSafetensorsFile } from "@flowturbo/tensor/node";
import type { VaeDecoder } from "@flowturbo/vae";
import { readFile } from "node:fs/promises";
import { type Command, EXIT, UsageError } from "../cli";
import { parseIntFlag, requireFile } from "../files";
import { openModel } from "../models";
import { imageOutput, openVaeDecoder, writeImages } from "../outputs";
import { ProgressBar } from "../progress";

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

function parseClasses(value: unknown, n: number, numClasses: number, seed: number): number[] {
  if (value === undefined) {
    // deterministic labels: sample i gets class (seed + i) mod numClasses
    return Array.from({ length: n }, (_, i) => (seed + i) % numClasses);
  }
  const ids = String(value)
    .split(",")
    .map((s) => s.trim());
  const out = ids.map((s) => {
    const c = Number(s);
    if (!Number.isInteger(c) || c < 0 || c >= numClasses)
      throw new UsageError(`--class: '${s}' is not a class id in 0..${numClasses - 1}`);
    return c;
  });
  return Array.from({ length: n }, (_, i) => out[i % out.length]);
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

export const sampleCommand: Command = {
  name: "sample",
  summary: "generate samples with a FlowTurbo plan (or a baseline solver)",
  usage:
    "flowturbo sample --base MODEL [--refiner MODEL] [--plan fast|quality|H1P5R3] [--n N] [--seed S] [--cfg 1.5] [--latents-out FILE]",
  examples: [
    "flowturbo sample --base sit-xl-2.onnx --refiner refiner.onnx --vae sd-vae-ft-ema/ --plan fast --n 8 --class 207,360 --cfg 1.5 -o grid.png",
    "flowturbo sample --base sit-xl-2.onnx --refiner refiner.onnx --vae sd-vae-ft-ema/ --plan quality --n 50000 --batch 25 -o samples.npz",
    "flowturbo sample --base SiT-XL-2-256x256.pt --solver heun --steps 8 --n 4 --latents-out heun.safetensors",
    "flowturbo sample --base sit.pt --heads 4 --noise z.safetensors --n 2 --plan H1P2R2 --latents-out out.safetensors",
  ],
  options: {
    base: { type: "string" },
    refiner: { type: "string" },
    plan: { type: "string" },
    solver: { type: "string" },
    steps: { type: "string" },
    cfg: { type: "string" },
    class: { type: "string" },
    seed: { type: "string" },
    n: { type: "string" },
    batch: { type: "string" },
    backend: { type: "string" },
    heads: { type: "string" },
    noise: { type: "string" },
    vae: { type: "string" },
    "vae-config": { type: "string" },
    out: { type: "string", short: "o" },
    "latents-out": { type: "string" },
    "no-decode": { type: "boolean" },
  },
  async run(ctx) {
    const v = ctx.values;
    const n = parseIntFlag(v.n, "--n") ?? 1;
    const seed = parseIntFlag(v.seed, "--seed", 0) ?? 0;
    const batch = parseIntFlag(v.batch, "--batch");
    const heads = parseIntFlag(v.heads, "--heads");
    const cfg = v.cfg === undefined ? 1 : Number(v.cfg);
    if (!Number.isFinite(cfg) || cfg < 0) throw new UsageError(`--cfg must be a number >= 0, got '${v.cfg}'`);
    const provider = BACKENDS[(v.backend as string | undefined) ?? "cpu"];
    if (!provider) throw new UsageError(`--backend must be cpu, cuda or webgpu, got '${v.backend}'`);
    const method = parseMethod(v);
    if (!v.base) {
      throw new UsageError(
        "--base MODEL is required (the embedded default model is not available yet; see `flowturbo sample --help`)",
      );
    }
    const latentsOut = v["latents-out"] as string | undefined;
    const out = v.out as string | undefined;
    const noDecode = v["no-decode"] === true;
    if (!out && !latentsOut)
      throw new UsageError("pass -o/--out (grid.png, samples.npz or a folder) and/or --latents-out FILE");
    if (noDecode && out) throw new UsageError("--no-decode writes no images: drop -o/--out or --no-decode");
    if ("plan" in method && parsePlan(method.plan).counts.R > 0 && !v.refiner) {
      throw new UsageError(
        `--plan ${method.plan} has refiner (R) steps: pass --refiner MODEL, or use a plan without R`,
      );
    }
    const backend = createNodeBackend();
    try {
      const providers = [provider];
      const base = await openModel(backend, v.base as string, "--base", { heads, expect: "sit", providers });
      const refiner = v.refiner
        ? await openModel(backend, v.refiner as string, "--refiner", { heads, expect: "refiner", providers })
        : undefined;
      const c = base.config;
      const shape = [c.keepChannels, c.inputSize, c.inputSize];
      const labels = parseClasses(v.class, n, c.numClasses, seed);
      const noise = v.noise
        ? await readNoise(await requireFile(v.noise as string, "--noise"), n, shape)
        : undefined;
      // pixel-space models (3 channels) produce images directly; latent models need the VAE
      let vae: VaeDecoder | undefined;
      if (out && c.keepChannels !== 3) {
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
      const bar = new ProgressBar(ctx.stderr, "samples");
      const result = await sample({
        base: base.session,
        refiner: refiner?.session,
        shape,
        labels,
        nullClass: c.numClasses,
        method,
        seed,
        cfgScale: cfg,
        batchSize: batch,
        noise,
        decode: decoder ? (latents) => decoder.decode(latents, { maxBatch: batch ?? 8 }) : undefined,
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
      if (out) await writeImages(imageOutput(out), result.images ?? result.latents, labels);
      const summary = {
        samples: n,
        method,
        cfg,
        seed,
        provider: base.session.provider,
        nfe: result.nfe,
        msPerSample: result.timings.sampling / n,
        latents: latentsOut ?? null,
        images: out ?? null,
        msDecodePerSample: result.timings.decoding / n,
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        const how = "plan" in method ? `plan ${method.plan}` : `${method.solver}`;
        ctx.stdout.write(
          `${n} samples with ${how}, cfg ${cfg}, seed ${seed} on ${summary.provider}: NFE base ${result.nfe.base}, refiner ${result.nfe.refiner}; ${summary.msPerSample.toFixed(1)} ms/sample\nwrote ${[out, latentsOut].filter(Boolean).join(" and ")}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
};
