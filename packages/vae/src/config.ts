// AutoencoderKL architecture: the Stable Diffusion VAE by default, or any diffusers config.json.

/** The architecture of a diffusers AutoencoderKL (camelCase mirror of its config.json). */
export interface VaeConfig {
  /** Image channels (3). */
  inChannels: number;
  /** Decoded image channels (3). */
  outChannels: number;
  /** Channels of each resolution level, encoder order (SD: [128, 256, 512, 512]). */
  blockOutChannels: readonly number[];
  /** Resnets per encoder down block; decoder up blocks have one more (SD: 2). */
  layersPerBlock: number;
  /** Latent channels (SD: 4). */
  latentChannels: number;
  /** GroupNorm groups of every norm (SD: 32; eps is always 1e-6). */
  normNumGroups: number;
  /** Pipelines decode `latents / scalingFactor + shiftFactor` and encode `(sample - shiftFactor) * scalingFactor`. */
  scalingFactor: number;
  /** 0 for SD; some later VAEs (SD3, FLUX) have one. */
  shiftFactor: number;
  /** quant_conv (1x1, 2L -> 2L) after the encoder. */
  useQuantConv: boolean;
  /** post_quant_conv (1x1, L -> L) before the decoder. */
  usePostQuantConv: boolean;
  /** Single-head self-attention in the mid blocks. */
  midBlockAddAttention: boolean;
  /** Nominal image size (informational; the graphs take any size divisible by the downsampling factor). */
  sampleSize: number;
}

/** stabilityai/sd-vae-ft-ema (and sd-vae-ft-mse, the SD 1.x VAE): 83,653,863 parameters. */
/** The SD VAE's latent scale (sd-vae-ft-ema's scaling_factor): latent = 0.18215 * sample. The one home of this number. */
export const SD_LATENT_SCALE = 0.18215;

export const SD_VAE_CONFIG: Readonly<VaeConfig> = Object.freeze({
  inChannels: 3,
  outChannels: 3,
  blockOutChannels: Object.freeze([128, 256, 512, 512]),
  layersPerBlock: 2,
  latentChannels: 4,
  normNumGroups: 32,
  scalingFactor: SD_LATENT_SCALE,
  shiftFactor: 0,
  useQuantConv: true,
  usePostQuantConv: true,
  midBlockAddAttention: true,
  sampleSize: 256,
});

/** Spatial downsampling factor between images and latents: 2^(levels - 1) (SD: 8). */
export function downsamplingFactor(cfg: VaeConfig): number {
  return 2 ** (cfg.blockOutChannels.length - 1);
}

/** The GroupNorm epsilon of every norm of the diffusers VAE. */
export const VAE_NORM_EPS = 1e-6;

type Json = Record<string, unknown>;

function num(json: Json, key: string, fallback: number, file: string): number {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${file}: '${key}' must be a number`);
  return v;
}

function bool(json: Json, key: string, fallback: boolean, file: string): boolean {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new Error(`${file}: '${key}' must be true or false`);
  return v;
}

function blockTypes(json: Json, key: string, expected: string, n: number, file: string): void {
  const v = json[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.length !== n) {
    throw new Error(`${file}: '${key}' must list ${n} block types (one per block_out_channels entry)`);
  }
  v.forEach((t, i) => {
    if (t !== expected)
      throw new Error(`${file}: ${key}[${i}] is ${JSON.stringify(t)}; only ${expected} is supported`);
  });
}

/**
 * Reads a diffusers AutoencoderKL config.json (parsed object or JSON text). Missing keys take
 * diffusers' AutoencoderKL defaults where the SD VAE agrees with them, else the SD values
 * (`block_out_channels`, `layers_per_block`, `norm_num_groups`, `sample_size` default to the SD VAE's).
 * Unsupported variants (another act_fn, other block types, latents_mean/std normalisation) are rejected
 * with the key named.
 */
export function vaeConfigFromDiffusers(config: string | Json, file = "config.json"): VaeConfig {
  const json = (typeof config === "string" ? JSON.parse(config) : config) as Json;
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new Error(`${file}: not a JSON object`);
  const cls = json._class_name;
  if (cls !== undefined && cls !== "AutoencoderKL")
    throw new Error(`${file}: _class_name is ${JSON.stringify(cls)}, expected "AutoencoderKL"`);
  const act = json.act_fn ?? "silu";
  if (act !== "silu")
    throw new Error(`${file}: act_fn ${JSON.stringify(act)} is not supported (only "silu")`);
  let channels: number[] = [...SD_VAE_CONFIG.blockOutChannels];
  if (json.block_out_channels !== undefined) {
    const v = json.block_out_channels;
    if (!Array.isArray(v) || v.length === 0 || !v.every((c) => Number.isInteger(c) && c > 0)) {
      throw new Error(`${file}: 'block_out_channels' must be a non-empty list of positive integers`);
    }
    channels = v as number[];
  }
  blockTypes(json, "down_block_types", "DownEncoderBlock2D", channels.length, file);
  blockTypes(json, "up_block_types", "UpDecoderBlock2D", channels.length, file);
  for (const key of ["latents_mean", "latents_std"]) {
    if (json[key] !== undefined && json[key] !== null)
      throw new Error(`${file}: '${key}' (per-channel latent normalisation) is not supported`);
  }
  const cfg: VaeConfig = {
    inChannels: num(json, "in_channels", 3, file),
    outChannels: num(json, "out_channels", 3, file),
    blockOutChannels: channels,
    layersPerBlock: num(json, "layers_per_block", SD_VAE_CONFIG.layersPerBlock, file),
    latentChannels: num(json, "latent_channels", 4, file),
    normNumGroups: num(json, "norm_num_groups", SD_VAE_CONFIG.normNumGroups, file),
    scalingFactor: num(json, "scaling_factor", SD_LATENT_SCALE, file),
    shiftFactor: num(json, "shift_factor", 0, file),
    useQuantConv: bool(json, "use_quant_conv", true, file),
    usePostQuantConv: bool(json, "use_post_quant_conv", true, file),
    midBlockAddAttention: bool(json, "mid_block_add_attention", true, file),
    sampleSize: sampleSize(json.sample_size, file),
  };
  validateVaeConfig(cfg, file);
  return cfg;
}

function sampleSize(v: unknown, file: string): number {
  if (v === undefined || v === null) return SD_VAE_CONFIG.sampleSize;
  const first = Array.isArray(v) ? v[0] : v; // diffusers accepts an int or [h, w]
  if (!Number.isInteger(first) || (first as number) <= 0)
    throw new Error(`${file}: 'sample_size' must be a positive integer or [h, w]`);
  return first as number;
}

/** Throws if channel counts do not divide into the norm groups or sizes are not positive integers. */
export function validateVaeConfig(cfg: VaeConfig, what = "VAE config"): void {
  const ints: [string, number][] = [
    ["inChannels", cfg.inChannels],
    ["outChannels", cfg.outChannels],
    ["layersPerBlock", cfg.layersPerBlock],
    ["latentChannels", cfg.latentChannels],
    ["normNumGroups", cfg.normNumGroups],
  ];
  for (const [k, v] of ints)
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${what}: ${k} must be a positive integer`);
  if (cfg.blockOutChannels.length === 0) throw new Error(`${what}: blockOutChannels is empty`);
  for (const c of cfg.blockOutChannels) {
    if (!Number.isInteger(c) || c <= 0 || c % cfg.normNumGroups !== 0) {
      throw new Error(`${what}: block channel count ${c} does not divide into ${cfg.normNumGroups} groups`);
    }
  }
  if (!(cfg.scalingFactor > 0)) throw new Error(`${what}: scalingFactor must be positive`);
}
