// The golden VAE cases (test/fixtures, from the shared golden set) through the float64 reference
// interpreter and ONNX Runtime CPU, with both attention key namings.
import { createNodeBackend } from "@flowturbo/backend-node";
import { type Backend, createReferenceBackend, toHost } from "@flowturbo/core";
import { Tensor } from "@flowturbo/tensor";
import { FULL_TIER } from "@flowturbo/test-support";
import { afterAll, describe, expect, test } from "vitest";
import {
  checkVaeStateDict,
  loadVaeWeights,
  SD_VAE_CONFIG,
  samplePosterior,
  vaeConfigFromDiffusers,
  vaeDecoderGraph,
  vaeEncoderGraph,
} from "../src";
import { loadCase, maxErrors, proceduralWeights, readFixture, withinTolerance } from "./golden";

const node = createNodeBackend();
afterAll(() => node.close());

const ENGINES: [string, Backend][] = [
  ["reference interpreter", createReferenceBackend()],
  ["ORT CPU", node],
];
const WEIGHT_FILES = ["vae_tiny.safetensors", "vae_tiny_legacy_names.safetensors"];

async function run(
  backend: Backend,
  graph: ReturnType<typeof vaeDecoderGraph>,
  weights: Map<string, Tensor>,
  feeds: Record<string, Tensor>,
): Promise<Record<string, Tensor>> {
  const session = await backend.load({ graph, weights });
  const out = await session.run(feeds);
  await session.release();
  return Object.fromEntries(
    await Promise.all(Object.entries(out).map(async ([k, v]) => [k, await toHost(v)])),
  );
}

function expectClose(label: string, got: Tensor, ref: Tensor): void {
  const e = maxErrors(got, ref);
  expect(withinTolerance(e), `${label}: max abs ${e.abs}, rel ${e.rel}`).toBe(true);
  console.info(`${label}: max abs ${e.abs.toExponential(2)}, rel ${e.rel.toExponential(2)}`);
}

describe.each(ENGINES)("golden vae_tiny through the %s", (engine, backend) => {
  test.each(WEIGHT_FILES)("decode, encode and intermediates with %s", async (file) => {
    const cfg = vaeConfigFromDiffusers(new TextDecoder().decode(await readFixture("vae_tiny/config.json")));
    const weights = await loadVaeWeights(await readFixture(`vae_tiny/${file}`), { config: cfg, file });
    const { tensors } = await loadCase("vae_tiny");
    const ref = (k: string) => tensors.get(k)!;
    const tag = `vae_tiny/${engine}/${file}`;

    // decode: the raw vae.decode(z).sample (no latent scaling)
    const dec = vaeDecoderGraph(cfg, { batch: 2, latentSize: 4, scaleLatents: false, intermediates: true });
    const d = await run(backend, dec, weights, { latents: ref("z") });
    expectClose(`${tag} decoded`, d.image, ref("decoded"));
    for (const k of ["post_quant_conv", "conv_in", "mid_block", "up_blocks.0", "up_blocks.1"]) {
      expectClose(`${tag} dec/${k}`, d[`intermediate/dec/${k}`], ref(`intermediate/dec/${k}`));
    }

    // the same decode from pipeline latents z * scaling_factor (the graph divides them back)
    const scaled = vaeDecoderGraph(cfg, { batch: 2, latentSize: 4 });
    const zs = ref("z")
      .toFloat32()
      .map((v) => v * cfg.scalingFactor);
    const ds = await run(backend, scaled, weights, {
      latents: new Tensor("float32", [2, 4, 4, 4], zs),
    });
    expectClose(`${tag} decoded from scaled latents`, ds.image, ref("decoded"));

    // encode: moments, mean, clamped logvar, std, and mean + std * eps with the given eps
    const enc = vaeEncoderGraph(cfg, { batch: 2, imageSize: 16, intermediates: true });
    const e = await run(backend, enc, weights, { image: ref("x") });
    for (const k of ["moments", "mean", "logvar", "std"]) expectClose(`${tag} ${k}`, e[k], ref(k));
    for (const k of ["mid_block", "encoder_out", "quant_conv"]) {
      expectClose(`${tag} enc/${k}`, e[`intermediate/enc/${k}`], ref(`intermediate/enc/${k}`));
    }
    expectClose(`${tag} sample`, samplePosterior(e.mean, e.std, ref("eps")), ref("sample"));

    // recon_mode = decode(mean), mean [2, 4, 8, 8]
    const recon = await run(
      backend,
      vaeDecoderGraph(cfg, { batch: 2, latentSize: 8, scaleLatents: false }),
      weights,
      { latents: e.mean.astype("float32") },
    );
    expectClose(`${tag} recon_mode`, recon.image, ref("recon_mode"));
  });
});

describe("golden vae_sd_decoder (the real sd-vae-ft-ema decoder, 49,490,179 parameters)", () => {
  // The float64 interpreter needs minutes for this case on a 2-core machine, so it runs in the full tier
  // (CI) only; the tiny case above covers the interpreter in the quick tier.
  const engines = FULL_TIER ? ENGINES : ENGINES.filter(([name]) => name === "ORT CPU");
  test.each(engines)(
    "procedural weights decode the golden latent through the %s",
    async (engine, backend) => {
      const c = await loadCase("vae_sd_decoder");
      const weights = proceduralWeights(c);
      checkVaeStateDict(weights, SD_VAE_CONFIG, { file: "vae_sd_decoder procedural_rules" });
      const graph = vaeDecoderGraph(SD_VAE_CONFIG, {
        latentSize: 8,
        scaleLatents: false,
        intermediates: true,
      });
      expect(graph.parameterCount() - 20).toBe(49_490_179);
      const out = await run(backend, graph, weights, { latents: c.tensors.get("z")! });
      const tag = `vae_sd_decoder/${engine}`;
      expectClose(`${tag} decoded`, out.image, c.tensors.get("decoded")!);
      for (const k of ["conv_in", "mid_block"]) {
        expectClose(`${tag} dec/${k}`, out[`intermediate/dec/${k}`], c.tensors.get(`intermediate/dec/${k}`)!);
      }
    },
  );
});
