// From a diffusers-format state dict to the graphs' canonical parameter names: legacy attention keys
// (query/key/value/proj_attn, used by diffusers < 0.17 and checkpoints such as sd-vae-ft-ema) become
// to_q/to_k/to_v/to_out.0, 1x1-conv-shaped attention weights [C, C, 1, 1] become Linear-shaped [C, C],
// and every key is checked against the architecture.
import { formatShape, readSafetensors, type Tensor } from "@flowturbo/tensor";
import { SD_VAE_CONFIG, type VaeConfig } from "./config";
import { vaeDecoderGraph, vaeEncoderGraph } from "./vae";

export type StateDict = ReadonlyMap<string, Tensor>;

/** Which halves of the model a set of weights must cover. */
export type VaePart = "encoder" | "decoder";

const LEGACY_ATTENTION: Readonly<Record<string, string>> = {
  query: "to_q",
  key: "to_k",
  value: "to_v",
  proj_attn: "to_out.0",
};

const ATTENTION_KEY =
  /^(.*\.attentions\.\d+)\.(query|key|value|proj_attn|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/;

export interface CanonicalStateDict {
  /** float32 tensors under the graphs' parameter names. */
  weights: Map<string, Tensor>;
  /** Legacy keys renamed, as [legacy, canonical]. */
  renamed: [string, string][];
  /** Attention weights reshaped from [C, C, 1, 1] to [C, C]. */
  reshaped: string[];
}

/**
 * Maps a diffusers AutoencoderKL state dict onto the canonical names: legacy attention keys renamed,
 * [C, C, 1, 1] attention weights reshaped to [C, C] (under either naming), float16/float64 tensors
 * converted to float32 (bfloat16 is already float32 when read by `readSafetensors`). Throws if a
 * legacy key and its current name are both present. Does not check shapes or completeness: see
 * `checkVaeStateDict`.
 */
export function canonicalVaeStateDict(sd: StateDict, file = "state dict"): CanonicalStateDict {
  const weights = new Map<string, Tensor>();
  const renamed: [string, string][] = [];
  const reshaped: string[] = [];
  const origin = new Map<string, string>();
  for (const [key, tensor] of sd) {
    let name = key;
    let t = tensor;
    const m = ATTENTION_KEY.exec(key);
    if (m) {
      const [, prefix, proj, kind] = m;
      const canonical = LEGACY_ATTENTION[proj];
      if (canonical) {
        name = `${prefix}.${canonical}.${kind}`;
        renamed.push([key, name]);
      }
      if (kind === "weight" && t.rank === 4 && t.shape[2] === 1 && t.shape[3] === 1) {
        t = t.reshape([t.shape[0], t.shape[1]]);
        reshaped.push(name);
      }
    }
    if (t.dtype === "float16" || t.dtype === "float64") t = t.astype("float32");
    const seen = origin.get(name);
    if (seen !== undefined) {
      throw new Error(`${file}: keys '${seen}' and '${key}' both map to '${name}'`);
    }
    origin.set(name, key);
    weights.set(name, t);
  }
  return { weights, renamed, reshaped };
}

function partOf(key: string): VaePart {
  return key.startsWith("encoder.") || key.startsWith("quant_conv.") ? "encoder" : "decoder";
}

/** Every parameter of the full AutoencoderKL under its canonical name, with its shape (encoder first). */
export function vaeParameterShapes(cfg: VaeConfig = SD_VAE_CONFIG): Map<string, readonly number[]> {
  // Shapes do not depend on the spatial size: build at the smallest one.
  const f = 2 ** (cfg.blockOutChannels.length - 1);
  const out = new Map<string, readonly number[]>();
  const enc = vaeEncoderGraph(cfg, { imageSize: f });
  const dec = vaeDecoderGraph(cfg, { latentSize: 1 });
  for (const g of [enc, dec]) for (const [name, p] of g.params) out.set(name, p.value.shape);
  return out;
}

export interface CheckOptions {
  /** File name for messages. */
  file?: string;
  /** Parts whose weights must be present (default both); keys of the other part may be absent. */
  parts?: readonly VaePart[];
}

function hint(sd: StateDict): string {
  const keys = [...sd.keys()];
  if (keys.some((k) => k.startsWith("first_stage_model.") || /\.mid\.attn_1\./.test(k)))
    return " (this looks like an original CompVis/LDM checkpoint: convert it to diffusers format first)";
  if (keys.some((k) => k.startsWith("x_embedder.") || k.startsWith("blocks.")))
    return " (this looks like a SiT/DiT checkpoint, not a VAE)";
  return "";
}

/**
 * Checks canonical weights against the architecture: every parameter of the requested parts present
 * with its shape, no key outside the AutoencoderKL. Throws one error naming the file and each
 * missing, unexpected or mis-shaped key (the first 8, then a count).
 */
export function checkVaeStateDict(
  sd: StateDict,
  cfg: VaeConfig = SD_VAE_CONFIG,
  opts: CheckOptions = {},
): void {
  const file = opts.file ?? "state dict";
  const parts = new Set(opts.parts ?? ["encoder", "decoder"]);
  const expected = vaeParameterShapes(cfg);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const t = sd.get(name);
    if (!t) {
      if (parts.has(partOf(name))) problems.push(`missing key '${name}' (expected ${formatShape(shape)})`);
    } else if (formatShape(t.shape) !== formatShape(shape)) {
      problems.push(`'${name}': expected shape ${formatShape(shape)}, found ${formatShape(t.shape)}`);
    }
  }
  for (const name of sd.keys()) if (!expected.has(name)) problems.push(`unexpected key '${name}'`);
  if (problems.length) {
    const more = problems.length > 8 ? `; and ${problems.length - 8} more` : "";
    throw new Error(
      `${file}: weights do not fit the VAE configuration: ${problems.slice(0, 8).join("; ")}${more}${hint(sd)}`,
    );
  }
}

export interface LoadWeightsOptions extends CheckOptions {
  /** The architecture (default the SD VAE). */
  config?: VaeConfig;
}

/**
 * A safetensors file (bytes) or a state dict -> canonical, checked float32 weights for the graphs.
 * Keys of a part not requested stay in the map (harmless: graphs bind only their own parameters).
 */
export async function loadVaeWeights(
  source: Uint8Array | StateDict,
  opts: LoadWeightsOptions = {},
): Promise<Map<string, Tensor>> {
  const file = opts.file ?? (source instanceof Uint8Array ? "<safetensors bytes>" : "state dict");
  const sd = source instanceof Uint8Array ? (await readSafetensors(source, { name: file })).tensors : source;
  const { weights } = canonicalVaeStateDict(sd, file);
  checkVaeStateDict(weights, opts.config ?? SD_VAE_CONFIG, { ...opts, file });
  return weights;
}

/**
 * Reads the architecture off canonical weight shapes (for checkpoints without a config.json).
 * GroupNorm groups and the latent scaling cannot be read from shapes: they come from `base`
 * (default the SD VAE: 32 groups, 0.18215).
 */
export function inferVaeConfig(
  sd: StateDict,
  base: VaeConfig = SD_VAE_CONFIG,
  file = "state dict",
): VaeConfig {
  const shape = (key: string): readonly number[] => {
    const t = sd.get(key);
    if (!t) throw new Error(`${file}: cannot infer the VAE configuration: missing key '${key}'${hint(sd)}`);
    return t.shape;
  };
  const hasDecoder = sd.has("decoder.conv_in.weight");
  const channels: number[] = [];
  let layers = 0;
  if (sd.has("encoder.conv_in.weight")) {
    for (let i = 0; sd.has(`encoder.down_blocks.${i}.resnets.0.conv1.weight`); i++)
      channels.push(shape(`encoder.down_blocks.${i}.resnets.0.conv1.weight`)[0]);
    while (sd.has(`encoder.down_blocks.0.resnets.${layers}.conv1.weight`)) layers++;
  } else {
    for (let i = 0; sd.has(`decoder.up_blocks.${i}.resnets.0.conv1.weight`); i++)
      channels.unshift(shape(`decoder.up_blocks.${i}.resnets.0.conv1.weight`)[0]);
    while (sd.has(`decoder.up_blocks.0.resnets.${layers}.conv1.weight`)) layers++;
    layers--;
  }
  if (channels.length === 0 || layers <= 0)
    throw new Error(`${file}: cannot infer the VAE configuration: no encoder or decoder blocks${hint(sd)}`);
  const midAttention =
    sd.has("decoder.mid_block.attentions.0.to_q.weight") ||
    sd.has("encoder.mid_block.attentions.0.to_q.weight");
  return {
    ...base,
    blockOutChannels: channels,
    layersPerBlock: layers,
    inChannels: sd.has("encoder.conv_in.weight") ? shape("encoder.conv_in.weight")[1] : base.inChannels,
    outChannels: hasDecoder ? shape("decoder.conv_out.weight")[0] : base.outChannels,
    latentChannels: hasDecoder ? shape("decoder.conv_in.weight")[1] : shape("encoder.conv_out.weight")[0] / 2,
    useQuantConv: sd.has("quant_conv.weight") || (!sd.has("encoder.conv_in.weight") && base.useQuantConv),
    usePostQuantConv: sd.has("post_quant_conv.weight") || (!hasDecoder && base.usePostQuantConv),
    midBlockAddAttention: midAttention,
  };
}
