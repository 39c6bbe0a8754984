import { Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import {
  canonicalVaeStateDict,
  checkVaeStateDict,
  inferVaeConfig,
  loadVaeWeights,
  proceduralVaeRules,
  proceduralVaeWeights,
  SD_VAE_CONFIG,
  vaeConfigFromDiffusers,
  vaeParameterShapes,
} from "../src";
import { loadCase, loadSafetensors, readFixture } from "./golden";

const tinyConfig = async () =>
  vaeConfigFromDiffusers(new TextDecoder().decode(await readFixture("vae_tiny/config.json")));

function sameTensors(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, t] of a) {
    expect(b.get(k)!.shape, k).toEqual(t.shape);
    const x = t.data as Float32Array;
    const y = b.get(k)!.data as Float32Array;
    expect(y.length, k).toBe(x.length);
    expect(
      x.every((v, i) => Object.is(v, y[i])),
      k,
    ).toBe(true);
  }
}

describe("state dicts", () => {
  test("legacy query/key/value/proj_attn names map onto the current ones, tensors unchanged", async () => {
    const current = await loadSafetensors("vae_tiny/vae_tiny.safetensors");
    const legacy = await loadSafetensors("vae_tiny/vae_tiny_legacy_names.safetensors");
    const { meta } = await loadCase("vae_tiny");
    const renames = (meta.weights as { legacy_renames: [string, string][] }).legacy_renames;
    for (const [, old] of renames) expect(legacy.has(old)).toBe(true);
    const c = canonicalVaeStateDict(legacy, "vae_tiny_legacy_names.safetensors");
    expect(new Map(c.renamed)).toEqual(new Map(renames.map(([now, old]) => [old, now])));
    expect(c.reshaped).toEqual([]);
    sameTensors(current, c.weights);
    expect(canonicalVaeStateDict(current).renamed).toEqual([]);
  });

  test("1x1-conv-shaped [C, C, 1, 1] attention weights are reshaped to [C, C], under either naming", async () => {
    const legacy = await loadSafetensors("vae_tiny/vae_tiny_legacy_names.safetensors");
    const current = await loadSafetensors("vae_tiny/vae_tiny.safetensors");
    for (const sd of [legacy, current]) {
      const convShaped = new Map(
        [...sd].map(([k, t]) =>
          /attentions\.0\.(query|key|value|proj_attn|to_q|to_k|to_v|to_out\.0)\.weight$/.test(k)
            ? [k, t.reshape([...t.shape, 1, 1])]
            : [k, t],
        ),
      );
      const c = canonicalVaeStateDict(convShaped);
      expect(c.reshaped).toHaveLength(8);
      sameTensors(current, c.weights);
    }
  });

  test("float16 weights are widened to float32", () => {
    const sd = new Map([["decoder.conv_in.bias", Tensor.from("float16", [2], [0.5, -2])]]);
    const t = canonicalVaeStateDict(sd).weights.get("decoder.conv_in.bias")!;
    expect(t.dtype).toBe("float32");
    expect([...t.data]).toEqual([0.5, -2]);
  });

  test("a legacy key next to its current name is an error naming both", async () => {
    const sd = new Map(await loadSafetensors("vae_tiny/vae_tiny.safetensors"));
    sd.set("decoder.mid_block.attentions.0.query.bias", sd.get("decoder.mid_block.attentions.0.to_q.bias")!);
    expect(() => canonicalVaeStateDict(sd, "mixed.safetensors")).toThrow(
      "mixed.safetensors: keys 'decoder.mid_block.attentions.0.to_q.bias' and 'decoder.mid_block.attentions.0.query.bias' both map to 'decoder.mid_block.attentions.0.to_q.bias'",
    );
  });

  test("missing, unexpected and mis-shaped keys are reported with the file and key names", async () => {
    const cfg = await tinyConfig();
    const sd = new Map(
      await loadVaeWeights(await readFixture("vae_tiny/vae_tiny.safetensors"), { config: cfg }),
    );
    sd.delete("decoder.conv_out.bias");
    sd.set("decoder.extra.weight", Tensor.zeros("float32", [1]));
    sd.set("decoder.conv_in.weight", Tensor.zeros("float32", [64, 4, 1, 1]));
    let message = "";
    try {
      checkVaeStateDict(sd, cfg, { file: "broken.safetensors" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^broken\.safetensors: weights do not fit the VAE configuration/);
    expect(message).toContain("missing key 'decoder.conv_out.bias' (expected [3])");
    expect(message).toContain("unexpected key 'decoder.extra.weight'");
    expect(message).toContain("'decoder.conv_in.weight': expected shape [64, 4, 3, 3], found [64, 4, 1, 1]");
    // the tiny weights against the SD architecture: many shape mismatches, summarised
    await expect(
      loadVaeWeights(await readFixture("vae_tiny/vae_tiny.safetensors"), { file: "vae_tiny.safetensors" }),
    ).rejects.toThrow(
      /^vae_tiny\.safetensors: .*expected shape \[128, 3, 3, 3\], found \[32, 3, 3, 3\].*and \d+ more/,
    );
  });

  test("decoder-only weights pass when only the decoder is asked for", async () => {
    const cfg = await tinyConfig();
    const all = await loadSafetensors("vae_tiny/vae_tiny.safetensors");
    const dec = new Map(
      [...all].filter(([k]) => k.startsWith("decoder.") || k.startsWith("post_quant_conv.")),
    );
    expect(() => checkVaeStateDict(dec, cfg, { parts: ["decoder"] })).not.toThrow();
    expect(() => checkVaeStateDict(dec, cfg)).toThrow(/missing key 'encoder\.conv_in\.weight'/);
  });

  test("the architecture is read off weight shapes", async () => {
    const cfg = await tinyConfig();
    const sd = await loadSafetensors("vae_tiny/vae_tiny.safetensors");
    expect(inferVaeConfig(sd, { ...SD_VAE_CONFIG, normNumGroups: 8, sampleSize: 16 })).toEqual(cfg);
    const dec = new Map(
      [...sd].filter(([k]) => k.startsWith("decoder.") || k.startsWith("post_quant_conv.")),
    );
    expect(inferVaeConfig(dec, { ...SD_VAE_CONFIG, normNumGroups: 8, sampleSize: 16 })).toEqual(cfg);
    expect(() =>
      inferVaeConfig(new Map([["blocks.0.attn.qkv.weight", Tensor.zeros("float32", [1])]])),
    ).toThrow(/SiT\/DiT checkpoint/);
  });

  test("the SD rule table covers exactly the SD architecture's parameters", async () => {
    const c = await loadCase("vae_sd_decoder");
    const shapes = vaeParameterShapes(SD_VAE_CONFIG);
    expect(new Map(c.meta.procedural_rules.map((r) => [r.name, [...r.shape]]))).toEqual(
      new Map([...shapes].map(([k, s]) => [k, [...s]])),
    );
  });
});

describe("procedural weights", () => {
  test("the rule convention reproduces both golden rule tables exactly", async () => {
    for (const [name, cfg] of [
      ["vae_tiny", await tinyConfig()],
      ["vae_sd_decoder", SD_VAE_CONFIG],
    ] as const) {
      const { meta } = await loadCase(name);
      const got = proceduralVaeRules(cfg).map((r) => ({ ...r, shape: [...r.shape] }));
      const want = meta.procedural_rules.map((r) => ({ ...r, shape: [...r.shape] }));
      expect(new Map(got.map((r) => [r.name, r]))).toEqual(new Map(want.map((r) => [r.name, r])));
    }
    const dec = proceduralVaeRules(SD_VAE_CONFIG, ["decoder"]);
    expect(dec.every((r) => r.name.startsWith("decoder.") || r.name.startsWith("post_quant_conv."))).toBe(
      true,
    );
    expect(dec.reduce((n, r) => n + r.shape.reduce((a, b) => a * b, 1), 0)).toBe(49_490_199);
  });

  test("tiny procedural weights equal the golden weight file bit for bit", async () => {
    sameTensors(
      await loadSafetensors("vae_tiny/vae_tiny.safetensors"),
      proceduralVaeWeights(await tinyConfig()),
    );
  });
});
