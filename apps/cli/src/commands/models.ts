// `flowturbo models`: the reference files, where each comes from, and `models verify FILE`.
import { basename } from "node:path";
import { readModelFile } from "@flowturbo/pipeline/node";
import { nonFiniteWeights } from "@flowturbo/sit";
import { type Command, EXIT, UsageError } from "../cli";
import { requireFile, sha256File } from "../files";
import { parseIntFlag } from "../flags";

/** The files the reference numbers were produced with. Nothing is downloaded by this tool. */
export const REFERENCE_FILES = [
  {
    name: "SiT-XL-2-256x256.pt",
    what: "SiT-XL/2 base model, ImageNet 256 (EMA weights; 675,129,632 parameters)",
    source: "SiT repository (willisma/SiT): download_model.py / README download link",
    use: "--base",
  },
  {
    name: "SiT-XL-2-Refiner.pt",
    what: "FlowTurbo velocity refiner for SiT-XL/2 ({model, ema, opt, args}; 29,708,960 parameters; 'model' is used)",
    source: "FlowTurbo repository (shiml20/FlowTurbo) README: pretrained refiner link",
    use: "--refiner",
  },
  {
    name: "sd-vae-ft-ema/",
    what: "Stable Diffusion VAE fine-tuned with EMA (diffusers folder: config.json + diffusion_pytorch_model.safetensors)",
    source: "Hugging Face hub: stabilityai/sd-vae-ft-ema",
    use: "--vae",
  },
  {
    name: "pt_inception-2015-12-05-6726825d.pth",
    what: "pytorch-fid's FID Inception weights (FlowTurbo's FID convention)",
    source: "pytorch-fid GitHub release (mseitzer/pytorch-fid, FID weights)",
    use: "eval",
  },
  {
    name: "VIRTUAL_imagenet256_labeled.npz",
    what: "ADM reference batch for ImageNet 256 (~2 GB; only its mu/sigma are read)",
    source: "openai/guided-diffusion evaluations README",
    use: "eval fid",
  },
] as const;

export const models: Command = {
  name: "models",
  summary: "list the reference model files and where to get them; `models verify FILE` checks one",
  usage:
    "flowturbo models [verify FILE [--heads N]] [--json]\n" +
    "verify reads the whole file: format, kind, architecture (a recorded one checked against the tensors), every\n" +
    "  weight's name and shape, and that no weight is NaN or infinite; a file that fails exits 1 with the reason",
  examples: [
    "flowturbo models",
    "flowturbo models verify SiT-XL-2-256x256.pt",
    "flowturbo models verify refiner.onnx --json",
  ],
  positionals: 2,
  options: {
    heads: {
      type: "string",
      value: "N",
      help: "attention heads, for a width outside SiT's table that the file does not record",
    },
  },
  async run(ctx) {
    const [sub, file] = ctx.positionals;
    if (!sub) {
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(REFERENCE_FILES)}\n`);
      else
        for (const f of REFERENCE_FILES)
          ctx.stdout.write(`${f.name}\n  ${f.what}\n  from: ${f.source}\n  use with: ${f.use}\n`);
      return EXIT.ok;
    }
    if (sub !== "verify")
      throw new UsageError(
        `unknown subcommand '${sub}': use 'flowturbo models' or 'flowturbo models verify FILE'`,
      );
    const path = await requireFile(file, "FILE (after verify)");
    {
      // the pipeline's reader checks the kind and the weights against the network's parameters
      const ckpt = await readModelFile(path, { heads: parseIntFlag(ctx.values.heads, "--heads", 1, 1024) });
      const format = ckpt.format;
      const broken = nonFiniteWeights(ckpt.weights);
      if (broken.length)
        throw new Error(
          `${ckpt.file}: ${broken.length} weight tensor${broken.length > 1 ? "s hold" : " holds"} NaN or infinite values (${broken
            .slice(0, 5)
            .map((b) => `${b.name}: ${b.count}`)
            .join(", ")}${broken.length > 5 ? ", ..." : ""}): the model would sample NaN`,
        );
      const parameters = [...ckpt.weights.values()].reduce((n, t) => n + t.size, 0);
      const report = {
        file: basename(path),
        sha256: await sha256File(path),
        format,
        kind: ckpt.kind,
        entry: ckpt.entry ?? null,
        config: ckpt.config,
        parameters,
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        const c = ckpt.config;
        ctx.stdout.write(
          `${report.file}: ${format}, ${ckpt.kind}${ckpt.entry ? ` (entry '${ckpt.entry}')` : ""}\n` +
            `  depth ${c.depth}, width ${c.hiddenSize}, heads ${c.numHeads}, patch ${c.patchSize}, input ${c.inChannels}x${c.inputSize}x${c.inputSize}, classes ${c.numClasses}\n` +
            `  ${parameters.toLocaleString("en-US")} parameters\n  sha256 ${report.sha256}\n`,
        );
      }
      return EXIT.ok;
    }
  },
};
