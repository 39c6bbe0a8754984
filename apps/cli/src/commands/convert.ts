// `flowturbo convert`: checkpoint (.pt / .safetensors) -> ONNX + a JSON manifest.
import { basename, dirname, join } from "node:path";
import { exportOnnx } from "@flowturbo/pipeline";
import { readModelFile } from "@flowturbo/pipeline/node";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { type Command, EXIT, UsageError } from "../cli";
import { requireFile, sha256File } from "../files";
import { parseIntFlag } from "../flags";

export const convert: Command = {
  name: "convert",
  summary: "convert a SiT or refiner checkpoint to ONNX with a JSON manifest",
  usage: "flowturbo convert CHECKPOINT -o OUT.onnx [--dtype float32|float16] [--entry model|ema] [--heads N]",
  examples: [
    "flowturbo convert SiT-XL-2-256x256.pt -o sit-xl-2.onnx",
    "flowturbo convert SiT-XL-2-Refiner.pt -o refiner.onnx --dtype float16",
    "flowturbo convert my-sit.safetensors -o my-sit.onnx --heads 8",
  ],
  options: {
    out: { type: "string", short: "o" },
    dtype: { type: "string" },
    entry: { type: "string" },
    heads: { type: "string" },
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
    const heads = parseIntFlag(ctx.values.heads, "--heads");

    const ckpt = await readModelFile(input, { heads, entry });
    const dataLocation = `${basename(out)}.data`;
    const exported = exportOnnx(ckpt, { dtype, dataLocation });
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
    const manifestPath = out.replace(/\.onnx$/, ".json");
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
