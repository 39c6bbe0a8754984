import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  downsamplingFactor,
  SD_VAE_CONFIG,
  type VaeConfig,
  vaeConfigFromDiffusers,
  vaeDecoderGraph,
  vaeEncoderGraph,
} from "../src";
import { FIXTURES } from "./golden";

const tinyJson = readFileSync(join(FIXTURES, "vae_tiny", "config.json"), "utf8");

// stabilityai/sd-vae-ft-ema's config.json as published (diffusers 0.4.0.dev0 era: no scaling_factor key).
const sdVaeFtEmaJson = {
  _class_name: "AutoencoderKL",
  _diffusers_version: "0.4.0.dev0",
  act_fn: "silu",
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 256,
  up_block_types: ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
};

describe("VAE configuration", () => {
  test("sd-vae-ft-ema's config.json reads as the SD default", () => {
    expect(vaeConfigFromDiffusers(sdVaeFtEmaJson)).toEqual(SD_VAE_CONFIG);
    expect(downsamplingFactor(SD_VAE_CONFIG)).toBe(8);
  });

  test("the tiny golden config.json", () => {
    const cfg = vaeConfigFromDiffusers(tinyJson);
    expect(cfg).toEqual({
      ...SD_VAE_CONFIG,
      blockOutChannels: [32, 64],
      layersPerBlock: 1,
      normNumGroups: 8,
      sampleSize: 16,
    } satisfies VaeConfig);
    expect(downsamplingFactor(cfg)).toBe(2);
  });

  test("scaling and shift factors, optional convs and attention come from the config", () => {
    const cfg = vaeConfigFromDiffusers({
      ...sdVaeFtEmaJson,
      scaling_factor: 1.5305,
      shift_factor: 0.0609,
      use_quant_conv: false,
      use_post_quant_conv: false,
      mid_block_add_attention: false,
      sample_size: [512, 512],
    });
    expect(cfg.scalingFactor).toBe(1.5305);
    expect(cfg.shiftFactor).toBe(0.0609);
    expect(cfg.sampleSize).toBe(512);
    const dec = vaeDecoderGraph(cfg, { latentSize: 2 });
    expect([...dec.params.keys()].some((k) => k.startsWith("post_quant_conv"))).toBe(false);
    expect([...dec.params.keys()].some((k) => k.includes("attentions"))).toBe(false);
  });

  test("unsupported variants are rejected with the key named", () => {
    expect(() => vaeConfigFromDiffusers({ ...sdVaeFtEmaJson, act_fn: "gelu" })).toThrow(/act_fn "gelu"/);
    expect(() => vaeConfigFromDiffusers({ ...sdVaeFtEmaJson, up_block_types: ["UpDecoderBlock2D"] })).toThrow(
      /up_block_types/,
    );
    expect(() => vaeConfigFromDiffusers({ _class_name: "AutoencoderTiny" })).toThrow(/AutoencoderTiny/);
    expect(() => vaeConfigFromDiffusers({ ...sdVaeFtEmaJson, norm_num_groups: 24 })).toThrow(/24 groups/);
    expect(() => vaeConfigFromDiffusers({ ...sdVaeFtEmaJson, latents_mean: [0, 0, 0, 0] })).toThrow(
      /latents_mean/,
    );
  });

  test("parameter counts match diffusers' (golden case.json param_count)", () => {
    const tiny = vaeConfigFromDiffusers(tinyJson);
    const count = (cfg: VaeConfig) =>
      vaeEncoderGraph(cfg, { imageSize: downsamplingFactor(cfg) }).parameterCount() +
      vaeDecoderGraph(cfg, { latentSize: 1 }).parameterCount();
    expect(count(tiny)).toBe(658_375);
    expect(count(SD_VAE_CONFIG)).toBe(83_653_863);
    // decode path = post_quant_conv (20) + decoder (49,490,179)
    expect(vaeDecoderGraph(SD_VAE_CONFIG, { latentSize: 1 }).parameterCount()).toBe(49_490_199);
  });

  test("graph shapes: 32x32x4 latents decode to 256x256 images; images encode to 1/8 size", () => {
    const dec = vaeDecoderGraph(SD_VAE_CONFIG, { batch: 2 });
    expect(dec.inputs[0].value.shape).toEqual([2, 4, 32, 32]);
    expect(dec.outputs[0].value.shape).toEqual([2, 3, 256, 256]);
    const enc = vaeEncoderGraph(SD_VAE_CONFIG, { imageSize: [64, 96] });
    expect(enc.outputs.map((o) => [o.name, o.value.shape])).toEqual([
      ["mean", [1, 4, 8, 12]],
      ["logvar", [1, 4, 8, 12]],
      ["std", [1, 4, 8, 12]],
    ]);
    expect(() => vaeEncoderGraph(SD_VAE_CONFIG, { imageSize: 60 })).toThrow(/not divisible by 8/);
  });
});
