// diffusers' AutoencoderKL (the Stable Diffusion VAE) as tensor-op graphs, parameters named like its
// state dict (current attention names to_q/to_k/to_v/to_out.0; see weights.ts for the legacy ones).
// Semantics (diffusers 0.31 autoencoder_kl.py, vae.py, resnet.py, unet_2d_blocks.py,
// attention_processor.py, upsampling.py, downsampling.py):
//   ResnetBlock2D: h = conv1(silu(norm1(x))); h = conv2(silu(norm2(h))); out = shortcut(x) + h,
//     shortcut = 1x1 conv_shortcut when channels change; every GroupNorm has eps 1e-6.
//   Attention (mid block): single head over the H*W tokens of group_norm(x), q/k/v/out Linear with
//     bias, softmax(q k^T C^-0.5) v, residual add.
//   Downsample2D: zero-pad right/bottom by one, then 3x3 conv stride 2 (here: asymmetric conv pads).
//   Upsample2D: nearest x2, then 3x3 conv.
import { F, Graph, nn, op, Scope, type Value } from "@flowturbo/tensor";
import { downsamplingFactor, VAE_NORM_EPS, type VaeConfig, validateVaeConfig } from "./config";

const conv3 = { kernel: 3, padding: 1 } as const;

function norm(s: Scope, x: Value, cfg: VaeConfig): Value {
  return nn.groupNorm(s, x, cfg.normNumGroups, { eps: VAE_NORM_EPS });
}

/** diffusers ResnetBlock2D without time embedding (the VAE's), x [B, C_in, H, W] -> [B, outChannels, H, W]. */
export function resnetBlock(s: Scope, x: Value, outChannels: number, cfg: VaeConfig): Value {
  let h = nn.conv2d(s.child("conv1"), F.silu(norm(s.child("norm1"), x, cfg)), outChannels, conv3);
  h = nn.conv2d(s.child("conv2"), F.silu(norm(s.child("norm2"), h, cfg)), outChannels, conv3);
  const shortcut =
    x.shape[1] === outChannels ? x : nn.conv2d(s.child("conv_shortcut"), x, outChannels, { kernel: 1 });
  return op.add(shortcut, h);
}

/** The mid block's single-head spatial self-attention with its residual, [B, C, H, W] -> same. */
export function attentionBlock(s: Scope, x: Value, cfg: VaeConfig): Value {
  const [, c, h, w] = x.shape;
  const tokens = op.transpose(op.reshape(norm(s.child("group_norm"), x, cfg), [0, c, h * w]), [0, 2, 1]);
  const q = nn.linear(s.child("to_q"), tokens, c);
  const k = nn.linear(s.child("to_k"), tokens, c);
  const v = nn.linear(s.child("to_v"), tokens, c);
  const o = nn.linear(s.child("to_out.0"), F.scaledDotProductAttention(q, k, v, c ** -0.5), c);
  return op.add(op.reshape(op.transpose(o, [0, 2, 1]), [0, c, h, w]), x);
}

/** UNetMidBlock2D: resnet, attention (if enabled), resnet. */
export function midBlock(s: Scope, x: Value, cfg: VaeConfig): Value {
  const c = x.shape[1];
  let h = resnetBlock(s.child("resnets.0"), x, c, cfg);
  if (cfg.midBlockAddAttention) h = attentionBlock(s.child("attentions.0"), h, cfg);
  return resnetBlock(s.child("resnets.1"), h, c, cfg);
}

/** Downsample2D: pad (0, 1, 0, 1) then 3x3 conv stride 2, folded into the conv's asymmetric pads. */
function downsample(s: Scope, x: Value): Value {
  const c = x.shape[1];
  const w = s.param("weight", [c, c, 3, 3]);
  const b = s.param("bias", [c]);
  return op.conv(x, w, b, { strides: [2, 2], pads: [0, 0, 1, 1] });
}

/** Nearest-neighbour x2 upsampling written batch-agnostically (reshape, broadcast, reshape). */
export function upsampleNearest2x(x: Value): Value {
  const [, c, h, w] = x.shape;
  const wide = op.expand(op.reshape(x, [0, c, h, 1, w, 1]), [1, 1, 1, 2, 1, 2]);
  return op.reshape(wide, [0, c, 2 * h, 2 * w]);
}

/** Debug taps: named intermediate values (forward-hook outputs in the golden cases). */
export type Taps = Map<string, Value>;

/** diffusers Encoder: image [B, C_in, H, W] -> moments before quant_conv [B, 2L, H/f, W/f]. */
export function encoder(s: Scope, x: Value, cfg: VaeConfig, taps?: Taps): Value {
  let h = nn.conv2d(s.child("conv_in"), x, cfg.blockOutChannels[0], conv3);
  cfg.blockOutChannels.forEach((out, i) => {
    const block = s.child(`down_blocks.${i}`);
    for (let j = 0; j < cfg.layersPerBlock; j++) h = resnetBlock(block.child(`resnets.${j}`), h, out, cfg);
    if (i < cfg.blockOutChannels.length - 1) h = downsample(block.child("downsamplers.0.conv"), h);
  });
  h = midBlock(s.child("mid_block"), h, cfg);
  taps?.set("enc/mid_block", h);
  h = F.silu(norm(s.child("conv_norm_out"), h, cfg));
  return nn.conv2d(s.child("conv_out"), h, 2 * cfg.latentChannels, conv3);
}

/** diffusers Decoder: z [B, L, h, w] -> image [B, C_out, h*f, w*f] (raw, not clamped). */
export function decoder(s: Scope, z: Value, cfg: VaeConfig, taps?: Taps): Value {
  const reversed = [...cfg.blockOutChannels].reverse();
  let h = nn.conv2d(s.child("conv_in"), z, reversed[0], conv3);
  taps?.set("dec/conv_in", h);
  h = midBlock(s.child("mid_block"), h, cfg);
  taps?.set("dec/mid_block", h);
  reversed.forEach((out, i) => {
    const block = s.child(`up_blocks.${i}`);
    for (let j = 0; j <= cfg.layersPerBlock; j++) h = resnetBlock(block.child(`resnets.${j}`), h, out, cfg);
    if (i < reversed.length - 1)
      h = nn.conv2d(block.child("upsamplers.0.conv"), upsampleNearest2x(h), out, conv3);
    taps?.set(`dec/up_blocks.${i}`, h);
  });
  h = F.silu(norm(s.child("conv_norm_out"), h, cfg));
  return nn.conv2d(s.child("conv_out"), h, cfg.outChannels, conv3);
}

function size2(v: number | readonly [number, number] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  const [h, w] = typeof v === "number" ? [v, v] : v;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0)
    throw new Error(`size ${JSON.stringify(v)} must be positive integers`);
  return [h, w];
}

export interface DecoderGraphOptions {
  /** Batch size of the static shapes (default 1); the emitted ONNX model takes any batch. */
  batch?: number;
  /** Latent height and width (default sampleSize / 8: 32x32 for SD, a 256x256 image). */
  latentSize?: number | readonly [number, number];
  /**
   * true (default): the input is a pipeline latent and the graph first computes
   * `latents / scalingFactor + shiftFactor`; false: the input goes straight to post_quant_conv, like
   * diffusers' `vae.decode(z)`.
   */
  scaleLatents?: boolean;
  /** Also output intermediate values as "intermediate/dec/<module>" (conv_in, mid_block, up_blocks.i, ...). */
  intermediates?: boolean;
}

/** Input and output names of the decoder graph. */
export const DECODER_INPUT = "latents";
export const DECODER_OUTPUT = "image";

/**
 * The decode path (post_quant_conv + Decoder) as a graph: input "latents" [B, L, h, w], output
 * "image" [B, C_out, 8h, 8w] in about [-1, 1] (not clamped). Batch axis dynamic in ONNX.
 */
export function vaeDecoderGraph(cfg: VaeConfig, opts: DecoderGraphOptions = {}): Graph {
  validateVaeConfig(cfg);
  const f = downsamplingFactor(cfg);
  const [h, w] = size2(opts.latentSize, Math.max(1, Math.floor(cfg.sampleSize / f)));
  const g = new Graph("vae_decoder");
  const dyn = { 0: "batch" };
  const s = new Scope(g);
  const latents = g.input(DECODER_INPUT, "float32", [opts.batch ?? 1, cfg.latentChannels, h, w], dyn);
  let z = latents;
  if (opts.scaleLatents ?? true) {
    z = op.div(z, cfg.scalingFactor);
    if (cfg.shiftFactor !== 0) z = op.add(z, cfg.shiftFactor);
  }
  const taps: Taps | undefined = opts.intermediates ? new Map() : undefined;
  if (cfg.usePostQuantConv) {
    z = nn.conv2d(s.child("post_quant_conv"), z, cfg.latentChannels, { kernel: 1 });
    taps?.set("dec/post_quant_conv", z);
  }
  g.output(DECODER_OUTPUT, decoder(s.child("decoder"), z, cfg, taps), dyn);
  for (const [name, v] of taps ?? []) g.output(`intermediate/${name}`, v, dyn);
  return g;
}

export interface EncoderGraphOptions {
  /** Batch size of the static shapes (default 1); the emitted ONNX model takes any batch. */
  batch?: number;
  /** Image height and width (default sampleSize); must be divisible by 8 (2^(levels-1)). */
  imageSize?: number | readonly [number, number];
  /** Also output "moments" and "intermediate/enc/<module>" (mid_block, encoder_out, quant_conv). */
  intermediates?: boolean;
}

export const ENCODER_INPUT = "image";

/**
 * The encode path (Encoder + quant_conv + DiagonalGaussianDistribution) as a graph: input "image"
 * [B, C_in, H, W] in [-1, 1]; outputs "mean", "logvar" (clamped to [-30, 20]) and "std" =
 * exp(logvar / 2), each [B, L, H/8, W/8] and unscaled. Sampling and latent scaling happen on the host
 * (see `encode`), with the project's seeded RNG.
 */
export function vaeEncoderGraph(cfg: VaeConfig, opts: EncoderGraphOptions = {}): Graph {
  validateVaeConfig(cfg);
  const f = downsamplingFactor(cfg);
  const [H, W] = size2(opts.imageSize, cfg.sampleSize);
  if (H % f !== 0 || W % f !== 0) throw new Error(`encoder: image size ${H}x${W} is not divisible by ${f}`);
  const g = new Graph("vae_encoder");
  const dyn = { 0: "batch" };
  const s = new Scope(g);
  const x = g.input(ENCODER_INPUT, "float32", [opts.batch ?? 1, cfg.inChannels, H, W], dyn);
  const taps: Taps | undefined = opts.intermediates ? new Map() : undefined;
  let moments = encoder(s.child("encoder"), x, cfg, taps);
  taps?.set("enc/encoder_out", moments);
  if (cfg.useQuantConv) {
    moments = nn.conv2d(s.child("quant_conv"), moments, 2 * cfg.latentChannels, { kernel: 1 });
    taps?.set("enc/quant_conv", moments);
  }
  const [mean, rawLogvar] = op.split(moments, 2, 1);
  const logvar = op.minimum(op.maximum(rawLogvar, -30), 20);
  g.output("mean", mean, dyn);
  g.output("logvar", logvar, dyn);
  g.output("std", op.exp(op.mul(logvar, 0.5)), dyn);
  if (taps) {
    g.output("moments", moments, dyn);
    for (const [name, v] of taps) g.output(`intermediate/${name}`, v, dyn);
  }
  return g;
}
