// Seconds per SiT forward on ORT CPU for S/2 and XL/2 at 256x256 (latent 32), batch 1 and 8,
// procedural weights. Prints a table and a final JSON line. Usage: pnpm bench [--sizes S,XL] [--repeats 3]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import { Tensor, toOnnxWithExternalData } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { proceduralWeights, type SiTSize, sitConfig, sitGraph } from "../src";

const { values } = parseArgs({
  options: { sizes: { type: "string", default: "S,XL" }, repeats: { type: "string", default: "3" } },
});
const sizes = values.sizes!.split(",") as SiTSize[];
const repeats = Number(values.repeats);
const backend = createNodeBackend();
const rows: { model: string; batch: number; secondsPerForward: number; gflopsPerImage: number }[] = [];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const size of sizes) {
  const cfg = sitConfig(size, 2);
  const g = sitGraph(cfg);
  const weights = proceduralWeights(g);
  const dir = await mkdtemp(join(tmpdir(), "flowturbo-bench-"));
  const encoded = toOnnxWithExternalData(g, {
    weights,
    encode: { externalData: "always", location: "m.onnx.data" },
  });
  await writeFileStreaming(join(dir, "m.onnx"), [encoded.model]);
  await writeFileStreaming(join(dir, "m.onnx.data"), encoded.external!.chunks);
  weights.clear();
  const session = await backend.load(join(dir, "m.onnx"), { providers: ["cpu"] });
  // FLOPs: 2 per multiply-add over the transformer (dominant terms).
  const t = (cfg.inputSize / cfg.patchSize) ** 2;
  const d = cfg.hiddenSize;
  const gflops = (cfg.depth * (2 * t * d * 12 * d + 4 * t * t * d)) / 1e9;
  for (const batch of [1, 8]) {
    const feeds = {
      x: Tensor.from(
        "float32",
        [batch, 4, 32, 32],
        Array.from({ length: batch * 4096 }, (_, i) => Math.sin(i)),
      ),
      t: Tensor.from("float32", [batch], new Array(batch).fill(0.5)),
      y: Tensor.from("int64", [batch], new Array(batch).fill(1)),
    };
    await session.run(feeds); // warm-up
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push((performance.now() - t0) / 1000);
    }
    rows.push({ model: `SiT-${size}/2`, batch, secondsPerForward: median(times), gflopsPerImage: gflops });
    const s = median(times);
    console.log(
      `SiT-${size}/2 batch ${batch}: ${s.toFixed(3)} s/forward, ${(s / batch).toFixed(3)} s/image, ${((gflops * batch) / s).toFixed(1)} GFLOP/s`,
    );
  }
  await session.release();
  await rm(dir, { recursive: true, force: true });
}
await backend.close();
console.log(JSON.stringify({ bench: "sit-forward-cpu", repeats, rows }));
