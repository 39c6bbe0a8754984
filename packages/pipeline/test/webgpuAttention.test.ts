// The emoji SiT (64 tokens) on onnxruntime-node's WebGPU provider (Dawn; SwiftShader here) against ORT CPU:
// the graph form the pipeline chooses on WebGPU (plain) gives the CPU's velocity; the fused form does not,
// because ONNX Runtime 1.30's WebGPU MultiHeadAttention is off from 32 tokens on (graphFormFor). The second
// check is a canary: when it fails, ORT's kernel is fixed and the fused form can return on WebGPU.
import { join } from "node:path";
import { lastJson, needs, runTs, vulkanEnv, webgpuUnavailable } from "@flowturbo/test-support";
import { describe, expect, test } from "vitest";

describe("WebGPU (Dawn; SwiftShader here)", () => {
  test("SiT on WebGPU runs in the plain form and matches ORT CPU; the fused form's attention does not", async (ctx) => {
    needs(ctx, "WebGPU (Dawn on a Vulkan ICD)", webgpuUnavailable());
    const child = await runTs(join(import.meta.dirname, "webgpu", "attention.ts"), { env: vulkanEnv() });
    const out = lastJson<{
      tokens: number;
      form: string;
      maxAbs: number;
      chosen: number;
      fused: number;
      error?: string;
    }>(child.stdout);
    expect(out.error, child.stderr.slice(-2000)).toBeUndefined();
    console.log(`emoji SiT on WebGPU vs ORT CPU: ${JSON.stringify(out)}`);
    expect(out.tokens).toBe(64);
    expect(out.form).toBe("plain");
    // WGSL bounds sin/cos (the timestep embedding) only to 2^-11 absolute
    expect(out.chosen).toBeLessThan(2e-3);
    expect(out.fused).toBeGreaterThan(10 * out.chosen);
  });
});
