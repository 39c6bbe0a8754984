// Runs in a child process with the Vulkan ICD configured (see webgpu.test.ts): the conformance suite and
// a device-tensor round trip on onnxruntime-node's WebGPU (Dawn) provider. Prints one JSON line.
import { type Backend, runConformance, type Session } from "@flowturbo/core";
import { Graph, op, Tensor } from "@flowturbo/tensor";
import { createNodeBackend, type NodeSession } from "../../src";

async function roundTrip(worker: boolean) {
  const backend = createNodeBackend({ worker });
  const g = new Graph("round_trip");
  const x = g.input("x", "float32", [2, 3]);
  g.output("y", op.add(op.mul(x, 2), 1));
  const session = await backend.load({ graph: g }, { providers: ["webgpu"], keepOnDevice: ["y"] });
  const first = await session.run({ x: Tensor.from("float32", [2, 3], [0, 1, 2, 3, 4, 5]) });
  const y1 = first.y;
  const second = await session.run({ x: y1 });
  const y2 = second.y;
  const location = "location" in y2 ? y2.location : "host";
  const values = Array.from((await (y2 as { download(): Promise<Tensor> }).download()).data as Float32Array);
  (y1 as { dispose(): void }).dispose();
  (y2 as { dispose(): void }).dispose();
  await session.release();
  await backend.close();
  return {
    worker,
    provider: session.provider,
    firstLocation: (y1 as { location?: string }).location,
    location,
    values,
  };
}

async function main() {
  const backend = createNodeBackend();
  const used = new Set<string>();
  const reasons: string[] = [];
  // records the provider each conformance session really ran on
  const recording: Backend = {
    name: backend.name,
    providers: () => backend.providers(),
    load: async (source, opts) => {
      const s: NodeSession = await backend.load(source, opts);
      used.add(s.provider);
      if (s.fallbackReason) reasons.push(s.fallbackReason);
      return s as Session;
    },
  };
  const t0 = performance.now();
  const results = await runConformance(recording, { providers: ["webgpu"] });
  const conformanceMs = performance.now() - t0;
  await backend.close();
  const trips = [await roundTrip(true), await roundTrip(false)];
  process.stdout.write(
    `${JSON.stringify({ providers: [...used], reasons, conformanceMs, results, trips })}\n`,
  );
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
  process.exitCode = 1;
});
