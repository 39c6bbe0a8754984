// The sampling graphs on onnxruntime-node's WebGPU provider (Dawn; SwiftShader here): every node of every
// session (per-call SiT and refiner, H/P/R block graphs guided and not, weights shared or embedded, graph
// forms fused and plain, for the embedded emoji model and the golden tiny SiT) is placed on
// WebGpuExecutionProvider, none falls back to the CPU. Read from ORT's own verbose log ("Node placements"),
// printed per session.
import { join } from "node:path";
import { nodePlacements } from "@flowturbo/core";
import { lastJson, needs, runTs, vulkanEnv, webgpuUnavailable } from "@flowturbo/test-support";
import { describe, expect, test } from "vitest";

describe("WebGPU (Dawn; SwiftShader here)", () => {
  test("no node of the sampling graphs falls back to the CPU", async (ctx) => {
    needs(ctx, "WebGPU (Dawn on a Vulkan ICD)", webgpuUnavailable());
    const child = await runTs(join(import.meta.dirname, "webgpu", "placements.ts"), { env: vulkanEnv() });
    const out = lastJson<{ sessions?: string[]; error?: string }>(child.stdout);
    expect(out.error, child.stderr.slice(-2000)).toBeUndefined();
    const sessions = out.sessions!;
    const placements = nodePlacements(child.stderr);
    expect(placements).toHaveLength(sessions.length);
    const table = sessions.map((name, i) => `${name}: ${JSON.stringify(placements[i])}`);
    console.log(`node placements on WebGPU:\n  ${table.join("\n  ")}`);
    for (const [i, p] of placements.entries()) {
      expect(Object.keys(p), sessions[i]).toEqual(["WebGpuExecutionProvider"]);
      expect(p.WebGpuExecutionProvider, sessions[i]).toBeGreaterThan(0);
    }
  });
});
