// `flowturbo decode`: latents (safetensors tensor `latents`) -> images with a VAE.
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { MAX_BATCH } from "@flowturbo/pipeline";
import { readSafetensors, type Tensor } from "@flowturbo/tensor";
import { saveSafetensorsFile } from "@flowturbo/tensor/node";
import { type Command, EXIT, UsageError } from "../cli";
import { checkOutputFile, requireFile } from "../files";
import { parseIntFlag } from "../flags";
import { inputError, openVae } from "../models";
import { checkImageOutput, writeImages } from "../outputs";

export const decodeCommand: Command = {
  name: "decode",
  summary: "decode latents (from sample --latents-out) to images with a VAE",
  usage:
    "flowturbo decode LATENTS.safetensors --vae DIR|FILE [--vae-config config.json] -o grid.png|samples.npz|DIR [--raw-out FILE]",
  examples: [
    "flowturbo decode latents.safetensors --vae sd-vae-ft-ema/ -o grid.png",
    "flowturbo decode latents.safetensors --vae vae.safetensors --vae-config config.json -o samples.npz --raw-out decoded.safetensors",
  ],
  positionals: 1,
  options: {
    vae: {
      type: "string",
      value: "DIR|FILE",
      help: "the VAE: a diffusers folder (stabilityai/sd-vae-ft-ema) or its .safetensors (required)",
    },
    "vae-config": { type: "string", value: "FILE", help: "the VAE's diffusers config.json", default: "SD's" },
    out: {
      type: "string",
      short: "o",
      value: "PATH",
      help: "images: a .png grid (at most 1024), an ADM .npz, or a folder of PNGs (flowturbo-samples.json written last)",
    },
    "raw-out": {
      type: "string",
      value: "FILE",
      help: "the decoded float images [N, 3, H, W] in [-1, 1] as safetensors 'images'",
    },
    batch: { type: "string", value: "B", help: `latents per decoder call (1..${MAX_BATCH})`, default: "8" },
  },
  async run(ctx) {
    const input = await requireFile(ctx.positionals[0], "LATENTS (first argument)");
    const out = ctx.values.out as string | undefined;
    const raw = ctx.values["raw-out"] as string | undefined;
    if (!out && !raw)
      throw new UsageError("pass -o/--out (grid.png, samples.npz or a folder) and/or --raw-out FILE");
    if (!ctx.values.vae)
      throw new UsageError("--vae DIR|FILE is required (e.g. a stabilityai/sd-vae-ft-ema folder)");
    const batch = parseIntFlag(ctx.values.batch, "--batch", 1, MAX_BATCH) ?? 8;
    let tensors: Map<string, Tensor>;
    try {
      ({ tensors } = await readSafetensors(new Uint8Array(await readFile(input)), { name: input }));
    } catch (e) {
      throw inputError(e, "LATENTS");
    }
    const latents = tensors.get("latents");
    if (!latents)
      throw new UsageError(`${input}: no tensor named 'latents' (found ${[...tensors.keys()].join(", ")})`);
    if (latents.rank !== 4)
      throw new UsageError(`${input}: 'latents' must be [N, C, H, W], got [${latents.shape.join(", ")}]`);
    const labels = tensors.get("labels");
    // every output checked before any work
    const output = out ? await checkImageOutput(out, latents.shape[0]) : undefined;
    if (raw) await checkOutputFile(raw, "--raw-out");
    const backend = createNodeBackend();
    try {
      // the SD VAE is fully convolutional: the decoder is built for these latents' height and width
      const [, channels, height, width] = latents.shape;
      const vae = await openVae(backend, ctx.values.vae as string, {
        configPath: ctx.values["vae-config"] as string | undefined,
        latentSize: [height, width],
        providers: ["cpu"],
      });
      if (channels !== vae.config.latentChannels) {
        await vae.release();
        throw new UsageError(
          `${input}: 'latents' has ${channels} channels, the VAE decodes ${vae.config.latentChannels}-channel latents`,
        );
      }
      const t0 = performance.now();
      const images = await vae.decode(latents.astype("float32"), { maxBatch: batch });
      const ms = performance.now() - t0;
      await vae.release();
      if (raw) {
        await mkdir(dirname(raw), { recursive: true });
        await saveSafetensorsFile(raw, new Map([["images", images]]));
      }
      if (output) await writeImages(output, images, labels && Array.from(labels.toFloat64()));
      const n = latents.shape[0];
      const summary = {
        images: n,
        shape: images.shape,
        msPerImage: ms / n,
        out: out ?? null,
        raw: raw ?? null,
      };
      ctx.stdout.write(
        ctx.json
          ? `${JSON.stringify(summary)}\n`
          : `decoded ${n} images [${images.shape.join(", ")}] in ${(ms / n).toFixed(1)} ms/image\n`,
      );
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
};
