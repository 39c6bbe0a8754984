// Decode time of the SD VAE (sd-vae-ft-ema architecture, procedural weights) on ONNX Runtime CPU:
// one 32x32x4 latent -> one 256x256 image per run, through the pipeline's decode(). Prints a table
// and a final JSON line. Run: pnpm bench   (BENCH_RUNS=n for more timed runs)
import { cpus } from "node:os";
import { createNodeBackend } from "@flowturbo/backend-node";
import { noiseBatch } from "@flowturbo/tensor";
import { decode, proceduralVaeWeights, SD_VAE_CONFIG, vaeDecoderGraph } from "../src/index";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const cfg = SD_VAE_CONFIG;

let t0 = performance.now();
const weights = proceduralVaeWeights(cfg, ["decoder"]);
const weightsMs = performance.now() - t0;
const graph = vaeDecoderGraph(cfg, { batch: 1, latentSize: 32 });

const backend = createNodeBackend();
t0 = performance.now();
const session = await backend.load({ graph, weights });
const loadMs = performance.now() - t0;

const latents = noiseBatch(0, 0, 1, [4, 32, 32]);
t0 = performance.now();
const first = await decode(session, latents);
const firstMs = performance.now() - t0;
if (first.shape.join("x") !== "1x3x256x256") throw new Error(`unexpected output shape ${first.shape}`);

const times: number[] = [];
for (let i = 0; i < RUNS; i++) {
  t0 = performance.now();
  await decode(session, latents);
  times.push(performance.now() - t0);
}
await session.release();
await backend.close();

times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
const row = (k: string, v: string) => console.log(`${k.padEnd(34)}${v}`);
row("model", `SD VAE decoder, ${graph.parameterCount().toLocaleString("en")} params (procedural)`);
row("input -> output", "1x4x32x32 latent -> 1x3x256x256 image");
row("engine", `onnxruntime-node CPU (${session.provider}), ${cpus().length} cores`);
row("procedural weights", `${weightsMs.toFixed(0)} ms`);
row("graph -> ONNX -> session", `${loadMs.toFixed(0)} ms`);
row("first decode", `${firstMs.toFixed(0)} ms`);
row(`decode, ${RUNS} runs`, `${times.map((t) => t.toFixed(0)).join(", ")} ms`);
row("ms per 256x256 image (median)", median.toFixed(0));
console.log(
  JSON.stringify({
    bench: "vae-decode-256",
    engine: "onnxruntime-node",
    provider: session.provider,
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    latent: [1, 4, 32, 32],
    runs: RUNS,
    msPerImage: Math.round(median * 10) / 10,
    minMs: Math.round(times[0] * 10) / 10,
    firstMs: Math.round(firstMs),
    loadMs: Math.round(loadMs),
  }),
);
