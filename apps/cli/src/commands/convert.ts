// `flowturbo convert`: checkpoint (.pt / .safetensors) -> ONNX + a JSON manifest.
import { mkdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { exportOnnx } from "@flowturbo/pipeline";
import { readModelFile } from "@flowturbo/pipeline/node";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { type Command, EXIT, UsageError } from "../cli";
import { checkOutputFile, requireFile, sha256File } from "../files";
import { parseIntFlag } from "../flags";
import { inputError } from "../models";

export const convert: Command = {
  name: "convert",
  summary: "convert a SiT or refiner checkpoint to ONNX with a JSON manifest",
  usage: "flowturbo convert CHECKPOINT -o OUT.onnx [--dtype float32|float16] [--entry model|ema] [--heads N]",
  examples: [
    "flowturbo convert SiT-XL-2-256x256.pt -o sit-xl-2.onnx",
    "flowturbo convert SiT-XL-2-Refiner.pt -o refiner.onnx --dtype float16",
    "flowturbo convert my-sit.safetensors -o my-sit.onnx --heads 8",
  ],
  positionals: 1,
  options: {
    out: {
      type: "string",
      short: "o",
      value: "OUT.onnx",
      help: "the ONNX file (required); OUT.json (the manifest) and OUT.onnx.data (weights over 2 GB) go beside it, folders are created",
    },
    dtype: { type: "string", value: "float32|float16", help: "weights' precision", default: "float32" },
    entry: {
      type: "string",
      value: "model|ema",
      help: "which weights of a .pt training checkpoint ({model, ema, ...}) to convert",
      default: "ema for SiT, model for a refiner (as the official code)",
    },
    heads: {
      type: "string",
      value: "N",
      help: "attention heads, for a width outside SiT's table (1152, 1024, 768, 384)",
    },
  },
  async run(ctx) {
    const input = await requireFile(ctx.positionals[0], "CHECKPOINT (first argument)");
    const out = ctx.values.out as string | undefined;
    if (!out) throw new UsageError("-o/--out OUT.onnx is required");
    if (!out.endsWith(".onnx")) throw new UsageError(`--out must end in .onnx, got '${out}'`);
    const dtype = (ctx.values.dtype as string | undefined) ?? "float32";
    if (dtype !== "float32" && dtype !== "float16")
      throw new UsageError(`--dtype must be float32 or float16, got '${dtype}'`);
    const entry = ctx.values.entry as string | undefined;
    if (entry !== undefined && entry !== "model" && entry !== "ema")
      throw new UsageError(`--entry must be model or ema, got '${entry}'`);
    const heads = parseIntFlag(ctx.values.heads, "--heads", 1, 1024);
    const dataLocation = `${basename(out)}.data`;
    const manifestPath = out.replace(/\.onnx$/, ".json");
    // every output checked before any work
    await checkOutputFile(out, "-o");
    await checkOutputFile(manifestPath, "-o (its manifest)");

    let ckpt: Awaited<ReturnType<typeof readModelFile>>;
    let exported: ReturnType<typeof exportOnnx>;
    try {
      ckpt = await readModelFile(input, { heads, entry });
      exported = exportOnnx(ckpt, { dtype, dataLocation });
    } catch (e) {
      throw inputError(e, "CHECKPOINT");
    }
    await mkdir(dirname(out), { recursive: true });
    await writeFileStreaming(out, [exported.encoded.model]);
    if (exported.encoded.external)
      await writeFileStreaming(join(dirname(out), dataLocation), exported.encoded.external.chunks);
    const manifest = {
      format: "flowturbo-model/1",
      kind: exported.kind,
      config: exported.config,
      dtype: exported.dtype,
      parameters: exported.parameters,
      source: {
        file: basename(input),
        sha256: await sha256File(input),
        format: ckpt.format,
        entry: ckpt.entry ?? null,
      },
      onnx: {
        file: basename(out),
        externalData: exported.encoded.external ? dataLocation : null,
        inputs: exported.inputs,
        outputs: exported.outputs,
      },
    };
    await writeFileStreaming(manifestPath, [
      new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
    ]);
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ ...manifest, manifest: manifestPath })}\n`);
    else {
      const { depth, hiddenSize, patchSize, inputSize } = exported.config;
      ctx.stdout.write(
        `${exported.kind} depth ${depth} width ${hiddenSize} patch ${patchSize} latent ${inputSize}: ${exported.parameters.toLocaleString("en-US")} parameters\n` +
          `wrote ${out}${exported.encoded.external ? ` (+ ${dataLocation})` : ""} (${exported.dtype}) and ${manifestPath}\n`,
      );
    }
    return EXIT.ok;
  },
};
