import { createNodeBackend } from "@flowturbo/backend-node";
import { createReferenceBackend, type Session } from "@flowturbo/core";
import { noiseBatch, Tensor } from "@flowturbo/tensor";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  decode,
  decodeToUint8,
  encode,
  estimateDecodeBytes,
  loadVaeDecoder,
  loadVaeEncoder,
  loadVaeWeights,
  SD_VAE_CONFIG,
  samplePosterior,
  scaleLatents,
  toUint8Images,
  unscaleLatents,
  type VaeConfig,
  vaeConfigFromDiffusers,
  vaeDecoderGraph,
  vaeEncoderGraph,
} from "../src";
import { loadCase, maxErrors, readFixture } from "./golden";

const node = createNodeBackend();
afterAll(() => node.close());

let cfg: VaeConfig;
let weights: Map<string, Tensor>;
beforeAll(async () => {
  cfg = vaeConfigFromDiffusers(new TextDecoder().decode(await readFixture("vae_tiny/config.json")));
  weights = await loadVaeWeights(await readFixture("vae_tiny/vae_tiny_legacy_names.safetensors"), {
    config: cfg,
  });
});

/** Wraps a session, recording the batch size of every run. */
function counting(session: Session): { session: Session; batches: number[] } {
  const batches: number[] = [];
  return {
    batches,
    session: {
      ...session,
      provider: session.provider,
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: (feeds, outputs) => {
        batches.push(Object.values(feeds)[0].shape[0]);
        return session.run(feeds, outputs);
      },
      release: () => session.release(),
    },
  };
}

const latents = (n: number, h = 4) => noiseBatch(5, 0, n, [4, h, h], "test/latents");

describe("micro-batched decode", () => {
  test("maxBatch splits the batch; results equal one full-batch run", async () => {
    const s = await node.load({ graph: vaeDecoderGraph(cfg, { latentSize: 4 }), weights });
    const z = latents(5);
    const full = counting(s);
    const all = await decode(full.session, z, { config: cfg });
    expect(full.batches).toEqual([5]);
    const split = counting(s);
    const parts = await decode(split.session, z, { config: cfg, maxBatch: 2 });
    expect(split.batches).toEqual([2, 2, 1]);
    expect(parts.shape).toEqual([5, 3, 8, 8]);
    expect(maxErrors(parts, all).abs).toBeLessThan(1e-6);
    await s.release();
  });

  test("memoryBudget sets the chunk size from the per-image estimate", async () => {
    const s = await node.load({ graph: vaeDecoderGraph(cfg, { latentSize: 4 }), weights });
    const per = estimateDecodeBytes(cfg, 4, 4);
    const c = counting(s);
    await decode(c.session, latents(7), { config: cfg, memoryBudget: 3 * per + 1 });
    expect(c.batches).toEqual([3, 3, 1]);
    await s.release();
    // SD at 256x256: 7 maps of 256 x 256 x 256 float32 (ORT CPU measured 390-440 MiB per image)
    expect(estimateDecodeBytes(SD_VAE_CONFIG, 32, 32)).toBe(7 * 256 * 256 * 256 * 4);
  });

  test("fixed-batch sessions (reference interpreter) get padded chunks; rows are unchanged", async () => {
    const ref = await loadVaeDecoder(createReferenceBackend(), weights, {
      config: cfg,
      graph: { batch: 2, latentSize: 4 },
    });
    const ort = await loadVaeDecoder(node, weights, { config: cfg, graph: { latentSize: 4 } });
    const z = latents(3);
    const a = await ref.decode(z);
    const b = await ort.decode(z, { maxBatch: 2 });
    expect(a.shape).toEqual([3, 3, 8, 8]);
    expect(maxErrors(b, a).abs).toBeLessThan(1e-5);
    const u8 = await ort.decodeToUint8(z);
    expect(u8.shape).toEqual([3, 8, 8, 3]);
    await ref.release();
    await ort.release();
  });

  test("the decoder graph divides pipeline latents by the scaling factor (golden decoded)", async () => {
    const { tensors } = await loadCase("vae_tiny");
    const dec = await loadVaeDecoder(node, weights, { config: cfg, graph: { latentSize: 4 } });
    const z = tensors.get("z")!;
    const img = await dec.decode(scaleLatents(z, cfg), { maxBatch: 1 });
    expect(maxErrors(img, tensors.get("decoded")!).abs).toBeLessThan(1e-4);
    const raw = await node.load({
      graph: vaeDecoderGraph(cfg, { latentSize: 4, scaleLatents: false }),
      weights,
    });
    const again = await decode(raw, unscaleLatents(scaleLatents(z, cfg), cfg), { config: cfg });
    expect(maxErrors(again, tensors.get("decoded")!).abs).toBeLessThan(1e-4);
    await raw.release();
    await dec.release();
  });
});

describe("uint8 quantization (SiT's sample.py)", () => {
  test("clamp(127.5 x + 128, 0, 255) in float32, truncated, NCHW -> NHWC", () => {
    const x = Float32Array.of(-1, -0.99, 0, 0.5, 1, 2, -2, Number.NaN, 0.9999, -0.0039215689, 0.00392, 0.3);
    const u = toUint8Images(new Tensor("float32", [1, 3, 2, 2], x));
    expect(u.shape).toEqual([1, 2, 2, 3]);
    // channel c of pixel p is x[c * 4 + p]
    const expected = [...x].map((v) => {
      const y = Math.fround(Math.fround(127.5 * v) + 128);
      return Number.isNaN(y) ? 0 : Math.trunc(Math.min(255, Math.max(0, y)));
    });
    for (let p = 0; p < 4; p++)
      for (let c = 0; c < 3; c++) expect(u.data[p * 3 + c]).toBe(expected[c * 4 + p]);
    expect(expected.slice(0, 7)).toEqual([0, 1, 128, 191, 255, 255, 0]);
    expect(expected[9]).toBe(127); // 127.4999..., truncated (not rounded)
  });

  test("decodeToUint8 equals toUint8Images(decode)", async () => {
    const s = await node.load({ graph: vaeDecoderGraph(cfg, { latentSize: 4 }), weights });
    const z = latents(2);
    expect([...(await decodeToUint8(s, z, { config: cfg })).data]).toEqual([
      ...toUint8Images(await decode(s, z, { config: cfg })).data,
    ]);
    await s.release();
  });
});

describe("encode", () => {
  test("seeded posterior samples are batch-invariant; latents = sample * scaling_factor", async () => {
    const { tensors } = await loadCase("vae_tiny");
    const x = tensors.get("x")!;
    const s = await node.load({ graph: vaeEncoderGraph(cfg, { imageSize: 16 }), weights });
    const whole = await encode(s, x, { config: cfg, seed: 42 });
    const one = await encode(s, x.sliceRows(1, 2), { config: cfg, seed: 42, firstIndex: 1, maxBatch: 1 });
    expect([...one.latents.data]).toEqual([...whole.latents.sliceRows(1, 2).data]);
    expect(maxErrors(whole.mean, tensors.get("mean")!).abs).toBeLessThan(1e-4);
    const eps = noiseBatch(42, 0, 2, [4, 8, 8], "vae/encode");
    expect([...whole.sample.data]).toEqual([...samplePosterior(whole.mean, whole.std, eps).data]);
    expect([...whole.latents.data]).toEqual([...scaleLatents(whole.sample, cfg).data]);
    const other = await encode(s, x, { config: cfg, seed: 43 });
    expect(maxErrors(other.sample, whole.sample).abs).toBeGreaterThan(1e-3);
    const mode = await encode(s, x, { config: cfg, mode: "mode" });
    expect([...mode.sample.data]).toEqual([...mode.mean.data]);
    await s.release();
  });

  test("loadVaeEncoder on the reference backend matches ORT", async () => {
    const { tensors } = await loadCase("vae_tiny");
    const x = tensors.get("x")!;
    const ref = await loadVaeEncoder(createReferenceBackend(), weights, {
      config: cfg,
      graph: { imageSize: 16 },
    });
    const ort = await loadVaeEncoder(node, weights, { config: cfg, graph: { imageSize: 16 } });
    const a = await ref.encode(x, { seed: 1 });
    const b = await ort.encode(x, { seed: 1 });
    expect(maxErrors(b.latents, a.latents).abs).toBeLessThan(1e-5);
    expect(maxErrors(a.std, tensors.get("std")!).abs).toBeLessThan(1e-4);
    await ref.release();
    await ort.release();
  });
});
