// onnxruntime-node's WebGPU (Dawn) provider, over SwiftShader's Vulkan ICD where no GPU is present. Runs
// in a child process: Dawn needs VK_ICD_FILENAMES (and a Vulkan loader on LD_LIBRARY_PATH) at startup.
import { fileURLToPath } from "node:url";
import type { ConformanceResult } from "@flowturbo/core";
import { describe, expect, test } from "vitest";
import { lastJson, needs, runTs, vulkanEnv, webgpuUnavailable } from "@flowturbo/test-support";

interface ChildReport {
  error?: string;
  providers: string[];
  reasons: string[];
  conformanceMs: number;
  results: ConformanceResult[];
  trips: { worker: boolean; provider: string; firstLocation: string; location: string; values: number[] }[];
}

// The suite holds sin/cos outputs to WEBGPU_TRIG_TOLERANCE on webgpu (WGSL's accuracy bound; SwiftShader
// gives ~2e-4); everything else to 1e-5.

describe("WebGPU provider (Dawn)", () => {
  test("conformance and a device-tensor round trip on WebGPU", async (ctx) => {
    needs(ctx, "WebGPU (Dawn on a Vulkan ICD)", webgpuUnavailable());
    const child = await runTs(fileURLToPath(new URL("./webgpu/child.ts", import.meta.url)), {
      env: vulkanEnv(),
    });
    const report = lastJson<ChildReport>(child.stdout);
    expect(report.error, child.stderr).toBeUndefined();
    expect(child.code, child.stderr).toBe(0);
    // every conformance session really ran on WebGPU (no silent CPU fallback)
    expect(report.providers).toEqual(["webgpu"]);
    expect(report.reasons).toEqual([]);
    expect(report.results.length).toBeGreaterThan(30);
    const failed = report.results.filter((r) => !r.passed).map((r) => `${r.name}/${r.output}: ${r.relError}`);
    expect(failed).toEqual([]);
    // outputs kept on the GPU, fed back into run() and downloaded once, in both modes
    for (const trip of report.trips) {
      expect(trip).toEqual({
        worker: trip.worker,
        provider: "webgpu",
        firstLocation: "gpu-buffer",
        location: "gpu-buffer",
        values: [3, 7, 11, 15, 19, 23],
      });
    }
    expect(report.trips.map((t) => t.worker)).toEqual([true, false]);
  });
});
