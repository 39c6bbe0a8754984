// Child process of webgpuAttention.test.ts (Dawn reads the Vulkan ICD at process start): one forward of
// the embedded emoji SiT (64 tokens) on onnxruntime-node's WebGPU provider in the graph form the pipeline
// chooses there, and in the fused form, each against ORT CPU. Prints one JSON line.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import type { ExecutionProvider, RunValue } from "@flowturbo/core";
import { loadCheckpoint } from "@flowturbo/sit";
import { REPO_ROOT } from "@flowturbo/test-support";
import { type GraphForm, Tensor } from "@flowturbo/tensor";
import { graphFormFor, openSamplingModels } from "../../src";

async function main() {
  const backend = createNodeBackend({ threads: 1 });
  const dir = join(REPO_ROOT, "models", "emoji");
  const base = await loadCheckpoint(new Uint8Array(await readFile(join(dir, "base.safetensors"))), {
    file: "base.safetensors",
  });
  const { inChannels: c, inputSize: s } = base.config;
  const n = 2;
  const feeds: Record<string, RunValue> = {
    x: new Tensor(
      "float32",
      [n, c, s, s],
      Float32Array.from({ length: n * c * s * s }, (_, i) => Math.sin(0.37 * i)),
    ),
    t: Tensor.from("float32", [n], [0.3, 0.7]),
    y: Tensor.from("int64", [n], [1n, 5n]),
  };
  const forward = async (providers: ExecutionProvider[], form?: GraphForm) => {
    const m = await openSamplingModels(backend, { base, level: "model", providers, form });
    if (m.provider !== providers[0]) throw new Error(`ran on ${m.provider}, asked for ${providers[0]}`);
    const out = await m.base!.run(feeds);
    const v = out[m.base!.outputNames[0]] as Tensor;
    const data = Float32Array.from(v.data as Float32Array);
    await m.release();
    return data;
  };
  const maxDiff = (a: Float32Array, b: Float32Array) =>
    a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  const cpu = await forward(["cpu"]);
  const chosen = await forward(["webgpu"]);
  const fused = await forward(["webgpu"], "fused");
  const maxAbs = cpu.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  await backend.close();
  process.stdout.write(
    `${JSON.stringify({
      tokens: (s / base.config.patchSize) ** 2,
      form: graphFormFor(backend, ["webgpu"]),
      maxAbs,
      chosen: maxDiff(chosen, cpu),
      fused: maxDiff(fused, cpu),
    })}\n`,
  );
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
  process.exitCode = 1;
});
