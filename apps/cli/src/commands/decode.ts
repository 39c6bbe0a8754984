// `flowturbo decode`: latents (safetensors tensor `latents`) -> images with a VAE.
import { readFile } from "node:fs/promises";
import { createNodeBackend } from "@flowturbo/backend-node";
import { readSafetensors } from "@flowturbo/tensor";
import { saveSafetensorsFile } from "@flowturbo/tensor/node";
import { type Command, EXIT, UsageError } from "../cli";
import { requireFile } from "../files";
import { parseIntFlag } from "../flags";
import { openVae } from "../models";
import { imageOutput, writeImages } from "../outputs";

export const decodeCommand: Command = {
  name: "decode",
  summary: "decode latents (from sample --latents-out) to images with a VAE",
  usage:
    "flowturbo decode LATENTS.safetensors --vae DIR|FILE [--vae-config config.json] -o grid.png|samples.npz|DIR [--raw-out FILE]",
  examples: [
    "flowturbo decode latents.safetensors --vae sd-vae-ft-ema/ -o grid.png",
    "flowturbo decode latents.safetensors --vae vae.safetensors --vae-config config.json -o samples.npz --raw-out decoded.safetensors",
  ],
  options: {
    vae: { type: "string" },
    "vae-config": { type: "string" },
    out: { type: "string", short: "o" },
    "raw-out": { type: "string" },
    batch: { type: "string" },
  },
  async run(ctx) {
    const input = await requireFile(ctx.positionals[0], "LATENTS (first argument)");
    const out = ctx.values.out as string | undefined;
    const raw = ctx.values["raw-out"] as string | undefined;
    if (!out && !raw)
      throw new UsageError("pass -o/--out (grid.png, samples.npz or a folder) and/or --raw-out FILE");
    if (!ctx.values.vae)
      throw new UsageError("--vae DIR|FILE is required (e.g. a stabilityai/sd-vae-ft-ema folder)");
    const batch = parseIntFlag(ctx.values.batch, "--batch") ?? 8;
    const { tensors } = await readSafetensors(new Uint8Array(await readFile(input)), { name: input });
    const latents = tensors.get("latents");
    if (!latents)
      throw new UsageError(`${input}: no tensor named 'latents' (found ${[...tensors.keys()].join(", ")})`);
    if (latents.rank !== 4)
      throw new UsageError(`${input}: 'latents' must be [N, C, H, W], got [${latents.shape.join(", ")}]`);
    const labels = tensors.get("labels");
    const backend = createNodeBackend();
    try {
      const vae = await openVae(backend, ctx.values.vae as string, {
        configPath: ctx.values["vae-config"] as string | undefined,
        latentSize: latents.shape[2],
        providers: ["cpu"],
      });
      const t0 = performance.now();
      const images = await vae.decode(latents.astype("float32"), { maxBatch: batch });
      const ms = performance.now() - t0;
      await vae.release();
      if (raw) await saveSafetensorsFile(raw, new Map([["images", images]]));
      const ids = labels ? Array.from(labels.toFloat64()) : [];
      if (out) await writeImages(imageOutput(out), images, ids);
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
