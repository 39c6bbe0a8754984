// Pipeline-level VAE use over backend sessions: micro-batched decode (large batches under a memory cap),
// SiT's uint8 quantization, encode with seeded posterior sampling and latent scaling.
import { type Backend, type Session, type SessionOptions, toHost } from "@flowturbo/core";
import { noiseBatch, quantizeImages, type Seed, Tensor } from "@flowturbo/tensor";
import { downsamplingFactor, SD_VAE_CONFIG, type VaeConfig } from "./config";
import {
  DECODER_INPUT,
  DECODER_OUTPUT,
  type DecoderGraphOptions,
  ENCODER_INPUT,
  type EncoderGraphOptions,
  vaeDecoderGraph,
  vaeEncoderGraph,
} from "./vae";
import type { StateDict } from "./weights";

export interface BatchOptions {
  /** Largest batch per session run (default: all at once, or what `memoryBudget` allows). */
  maxBatch?: number;
  /** Bytes of activation memory one run may use; sets maxBatch from `estimate*Bytes` when maxBatch is not given. */
  memoryBudget?: number;
  /**
   * Pad the last (short) chunk to maxBatch with zeros and drop the extra rows: needed when the session's
   * batch is fixed (the reference interpreter, static-shape ONNX models). Rows are independent, so the
   * padding does not change the results.
   */
  padBatch?: boolean;
}

/**
 * Live activation maps per image, in units of the largest feature map: calibrated on onnxruntime-node
 * 1.30 CPU, whose resident memory grows by 390-440 MiB per extra 256x256 SD decode (about 6-7 times
 * the largest map, 256 x 256 x 256 float32 after the second upsampler).
 */
const LIVE_MAPS = 7;

/** Peak activation bytes of decoding one image (heuristic: see LIVE_MAPS; about 448 MiB for SD at 256x256). */
export function estimateDecodeBytes(cfg: VaeConfig, latentH: number, latentW: number): number {
  const levels = cfg.blockOutChannels.length;
  let largest = 0;
  [...cfg.blockOutChannels].reverse().forEach((c, i) => {
    const area = latentH * latentW * 4 ** i;
    largest = Math.max(largest, c * area * (i < levels - 1 ? 4 : 1)); // non-final levels end upsampled
  });
  const tokens = latentH * latentW;
  const attention = cfg.midBlockAddAttention ? tokens * tokens : 0;
  return 4 * Math.max(LIVE_MAPS * largest, 2 * attention + LIVE_MAPS * cfg.blockOutChannels.at(-1)! * tokens);
}

/** Peak activation bytes of encoding one image (same heuristic as `estimateDecodeBytes`). */
export function estimateEncodeBytes(cfg: VaeConfig, imageH: number, imageW: number): number {
  const f = downsamplingFactor(cfg);
  let largest = 0;
  cfg.blockOutChannels.forEach((c, i) => {
    largest = Math.max(largest, (c * (imageH * imageW)) / 4 ** i);
  });
  const tokens = (imageH / f) * (imageW / f);
  const attention = cfg.midBlockAddAttention ? tokens * tokens : 0;
  return 4 * Math.max(LIVE_MAPS * largest, 2 * attention + LIVE_MAPS * cfg.blockOutChannels.at(-1)! * tokens);
}

function chunkSize(n: number, opts: BatchOptions, perItemBytes: () => number): number {
  if (opts.maxBatch !== undefined) {
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1)
      throw new Error(`maxBatch must be a positive integer, got ${opts.maxBatch}`);
    return opts.maxBatch;
  }
  if (opts.memoryBudget !== undefined) return Math.max(1, Math.floor(opts.memoryBudget / perItemBytes()));
  return Math.max(n, 1);
}

/**
 * Runs `session` on `input` split along axis 0 into chunks of at most `chunk` rows and concatenates
 * each requested float32 output.
 */
export async function runBatched(
  session: Session,
  inputName: string,
  input: Tensor,
  outputs: readonly string[],
  chunk: number,
  padBatch = false,
): Promise<Record<string, Tensor<"float32">>> {
  const n = input.shape[0];
  const parts: Record<string, Tensor<"float32">[]> = Object.fromEntries(outputs.map((o) => [o, []]));
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    let feed = input.sliceRows(start, end);
    if (padBatch && end - start < chunk) {
      const pad = Tensor.zeros(input.dtype, [chunk - (end - start), ...input.shape.slice(1)]);
      feed = Tensor.concatRows([feed, pad]);
    }
    const result = await session.run({ [inputName]: feed }, outputs);
    for (const name of outputs) {
      let t = await toHost(result[name]);
      if (t.dtype !== "float32") t = t.astype("float32");
      if (t.shape[0] !== end - start) t = t.sliceRows(0, end - start);
      parts[name].push(t as Tensor<"float32">);
    }
  }
  return Object.fromEntries(outputs.map((o) => [o, Tensor.concatRows(parts[o])]));
}

function checkLatents(latents: Tensor, cfg: VaeConfig | undefined): void {
  if (latents.rank !== 4) throw new Error(`decode: latents must be [N, C, h, w], got [${latents.shape}]`);
  if (cfg && latents.shape[1] !== cfg.latentChannels)
    throw new Error(`decode: latents have ${latents.shape[1]} channels, the VAE ${cfg.latentChannels}`);
}

export interface DecodeOptions extends BatchOptions {
  /** The architecture, for `memoryBudget` and input checks (default the SD VAE). */
  config?: VaeConfig;
}

/**
 * Decodes latents [N, L, h, w] with a decoder session (a `vaeDecoderGraph` loaded on any backend) in
 * chunks of at most `maxBatch` rows; returns float32 images [N, C, 8h, 8w] in about [-1, 1].
 */
export async function decode(
  session: Session,
  latents: Tensor,
  opts: DecodeOptions = {},
): Promise<Tensor<"float32">> {
  const cfg = opts.config ?? SD_VAE_CONFIG;
  checkLatents(latents, opts.config);
  const chunk = chunkSize(latents.shape[0], opts, () =>
    estimateDecodeBytes(cfg, latents.shape[2], latents.shape[3]),
  );
  const f32 = latents.dtype === "float32" ? latents : latents.astype("float32");
  return (await runBatched(session, DECODER_INPUT, f32, [DECODER_OUTPUT], chunk, opts.padBatch))[
    DECODER_OUTPUT
  ];
}

/**
 * SiT's sample.py quantization: clamp(127.5 x + 128, 0, 255) in float32, truncated to uint8, NCHW ->
 * NHWC. Bit-exact with `torch.clamp(127.5 * x + 128.0, 0, 255).permute(0, 2, 3, 1).to(torch.uint8)`
 * on float32 x (NaN maps to 0).
 */
export function toUint8Images(images: Tensor): Tensor<"uint8"> {
  if (images.rank !== 4) throw new Error(`toUint8Images: expected [N, C, H, W], got [${images.shape}]`);
  return quantizeImages(images);
}

/** `decode` then `toUint8Images`: uint8 NHWC images [N, 8h, 8w, C]. */
export async function decodeToUint8(
  session: Session,
  latents: Tensor,
  opts: DecodeOptions = {},
): Promise<Tensor<"uint8">> {
  return toUint8Images(await decode(session, latents, opts));
}

/** float32 mean + std * eps elementwise (torch's `DiagonalGaussianDistribution.sample` given eps). */
export function samplePosterior(mean: Tensor, std: Tensor, eps: Tensor): Tensor<"float32"> {
  if (mean.size !== std.size || mean.size !== eps.size)
    throw new Error(`samplePosterior: sizes differ (${mean.size}, ${std.size}, ${eps.size})`);
  const m = mean.toFloat32();
  const s = std.toFloat32();
  const e = eps.toFloat32();
  const out = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i] + Math.fround(s[i] * e[i]);
  return new Tensor("float32", mean.shape, out);
}

/** Pipeline latents from a raw sample: (sample - shiftFactor) * scalingFactor, in float32. */
export function scaleLatents(sample: Tensor, cfg: VaeConfig = SD_VAE_CONFIG): Tensor<"float32"> {
  const x = sample.toFloat32();
  const shift = Math.fround(cfg.shiftFactor);
  const scale = Math.fround(cfg.scalingFactor);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] - shift) * scale;
  return new Tensor("float32", sample.shape, x);
}

/** Raw decoder input from pipeline latents: latents / scalingFactor + shiftFactor, in float32. */
export function unscaleLatents(latents: Tensor, cfg: VaeConfig = SD_VAE_CONFIG): Tensor<"float32"> {
  const x = latents.toFloat32();
  const shift = Math.fround(cfg.shiftFactor);
  const scale = Math.fround(cfg.scalingFactor);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] / scale) + shift;
  return new Tensor("float32", latents.shape, x);
}

/** The default RNG stream of posterior sampling. */
export const ENCODE_NOISE_STREAM = "vae/encode";

export interface EncodeOptions extends BatchOptions {
  /** The architecture (default the SD VAE): latent scaling and `memoryBudget`. */
  config?: VaeConfig;
  /** Seed of the posterior noise (default 0). */
  seed?: Seed;
  /** Sample index of row 0: row i uses noise sample firstIndex + i, whatever the batching (default 0). */
  firstIndex?: number;
  /** RNG stream name (default "vae/encode"). */
  stream?: string;
  /** "sample" (default): mean + std * eps; "mode": the mean (diffusers' sample_posterior=False). */
  mode?: "sample" | "mode";
}

export interface EncodeResult {
  /** Pipeline latents: (z - shiftFactor) * scalingFactor, z the sample (or the mean in "mode"). */
  latents: Tensor<"float32">;
  /** Posterior mean and std (unscaled), [N, L, H/8, W/8]. */
  mean: Tensor<"float32">;
  std: Tensor<"float32">;
  /** The raw (unscaled) sample: mean + std * eps. */
  sample: Tensor<"float32">;
}

/**
 * Encodes images [N, C, H, W] in [-1, 1] with an encoder session (a `vaeEncoderGraph`), draws
 * eps ~ N(0, 1) per row from `noiseBatch(seed, firstIndex, N, [L, h, w], stream)` and returns the
 * posterior, the sample mean + std * eps and the scaled pipeline latents.
 */
export async function encode(
  session: Session,
  images: Tensor,
  opts: EncodeOptions = {},
): Promise<EncodeResult> {
  const cfg = opts.config ?? SD_VAE_CONFIG;
  if (images.rank !== 4) throw new Error(`encode: images must be [N, C, H, W], got [${images.shape}]`);
  const n = images.shape[0];
  const chunk = chunkSize(n, opts, () => estimateEncodeBytes(cfg, images.shape[2], images.shape[3]));
  const f32 = images.dtype === "float32" ? images : images.astype("float32");
  const { mean, std } = await runBatched(session, ENCODER_INPUT, f32, ["mean", "std"], chunk, opts.padBatch);
  let sample = mean;
  if ((opts.mode ?? "sample") === "sample") {
    const eps = noiseBatch(
      opts.seed ?? 0,
      opts.firstIndex ?? 0,
      n,
      mean.shape.slice(1),
      opts.stream ?? ENCODE_NOISE_STREAM,
    );
    sample = samplePosterior(mean, std, eps);
  }
  return { latents: scaleLatents(sample, cfg), mean, std, sample };
}

export interface LoadVaeOptions {
  /** The architecture (default the SD VAE). */
  config?: VaeConfig;
  /** Options of backend.load (providers, threads, ...). */
  session?: SessionOptions;
}

/** A decoder session bound to its configuration. */
export interface VaeDecoder {
  readonly session: Session;
  readonly config: VaeConfig;
  /** Pipeline latents [N, L, h, w] -> float32 images [N, C, 8h, 8w]. */
  decode(latents: Tensor, opts?: BatchOptions): Promise<Tensor<"float32">>;
  /** Pipeline latents -> uint8 NHWC images with SiT's quantization. */
  decodeToUint8(latents: Tensor, opts?: BatchOptions): Promise<Tensor<"uint8">>;
  release(): Promise<void>;
}

/**
 * Builds the decoder graph (pipeline latents in, scaled by the config) and loads it on `backend` with
 * canonical weights (see `loadVaeWeights`). On the reference backend, whose batch is fixed, chunks are
 * padded to the graph's batch (`graph.batch`, default 1) automatically.
 */
export async function loadVaeDecoder(
  backend: Backend,
  weights: StateDict,
  opts: LoadVaeOptions & { graph?: Omit<DecoderGraphOptions, "intermediates"> } = {},
): Promise<VaeDecoder> {
  const config = opts.config ?? SD_VAE_CONFIG;
  const graphBatch = opts.graph?.batch ?? 1;
  const graph = vaeDecoderGraph(config, { ...opts.graph, batch: graphBatch });
  const session = await backend.load({ graph, weights }, opts.session);
  const fixed = session.provider === "reference";
  const batchOpts = (o: BatchOptions = {}): DecodeOptions =>
    fixed ? { ...o, config, maxBatch: graphBatch, padBatch: true } : { ...o, config };
  return {
    session,
    config,
    decode: (latents, o) => decode(session, latents, batchOpts(o)),
    decodeToUint8: (latents, o) => decodeToUint8(session, latents, batchOpts(o)),
    release: () => session.release(),
  };
}

/** An encoder session bound to its configuration. */
export interface VaeEncoder {
  readonly session: Session;
  readonly config: VaeConfig;
  encode(images: Tensor, opts?: Omit<EncodeOptions, "config">): Promise<EncodeResult>;
  release(): Promise<void>;
}

/** Builds the encoder graph and loads it on `backend` (reference backend: chunks padded as in loadVaeDecoder). */
export async function loadVaeEncoder(
  backend: Backend,
  weights: StateDict,
  opts: LoadVaeOptions & { graph?: Omit<EncoderGraphOptions, "intermediates"> } = {},
): Promise<VaeEncoder> {
  const config = opts.config ?? SD_VAE_CONFIG;
  const graphBatch = opts.graph?.batch ?? 1;
  const graph = vaeEncoderGraph(config, { ...opts.graph, batch: graphBatch });
  const session = await backend.load({ graph, weights }, opts.session);
  const fixed = session.provider === "reference";
  return {
    session,
    config,
    encode: (images, o = {}) =>
      encode(
        session,
        images,
        fixed ? { ...o, config, maxBatch: graphBatch, padBatch: true } : { ...o, config },
      ),
    release: () => session.release(),
  };
}
