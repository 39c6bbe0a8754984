// Child process of webgpuPlacement.test.ts (Dawn reads the Vulkan ICD at process start): opens every
// sampling session of the embedded emoji model and of the golden tiny SiT, in both graph forms, on onnxruntime-node's WebGPU
// provider with ORT logging at "verbose", so that ORT writes each session's node placements to stderr
// (placement happens at session creation: nothing is run). Prints one JSON line: the sessions opened, in order.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { loadCheckpoint, type ModelCheckpoint } from "@flowturbo/sit";
import { parsePlan } from "@flowturbo/solvers";
import { goldenPath, REPO_ROOT } from "@flowturbo/test-support";
import { openSamplingModels } from "../../src";

async function load(dir: string, file: string, heads?: number): Promise<ModelCheckpoint> {
  return loadCheckpoint(new Uint8Array(await readFile(join(dir, file))), { file, heads });
}

async function main() {
  const backend = createNodeBackend({ logLevel: "verbose" });
  const models = {
    emoji: [
      await load(join(REPO_ROOT, "models", "emoji"), "base.safetensors"),
      await load(join(REPO_ROOT, "models", "emoji"), "refiner.safetensors"),
    ],
    tiny: [
      await load(goldenPath("sit"), "sit.safetensors", 4),
      await load(goldenPath("sit"), "refiner.safetensors", 4),
    ],
  };
  const sessions: string[] = [];
  for (const [name, [base, refiner]] of Object.entries(models)) {
    // the fused form (what the ORT backends emit on CPU and WASM) and the plain form (what the pipeline
    // builds when WebGPU runs the networks: graphFormFor), with the settings each is used with
    for (const form of ["fused", "plain"] as const) {
      // per call (levels none/model: one SiT and one refiner session)
      const perCall = await openSamplingModels(backend, {
        base,
        refiner,
        level: "model",
        providers: ["webgpu"],
        form,
      });
      if (perCall.provider !== "webgpu")
        throw new Error(`${name} ${form}: per-call sessions ran on ${perCall.provider}`);
      sessions.push(`${name} ${form} model: SiT`, `${name} ${form} model: refiner`);
      await perCall.release();
      // block graphs of H1P5R3 (H, P, R), guided and not, weights shared (an upload session first) or
      // embedded (fused only: the web app embeds them on WASM alone)
      for (const guided of [true, false]) {
        for (const weightMode of form === "fused"
          ? (["shared", "initializers"] as const)
          : (["shared"] as const)) {
          const m = await openSamplingModels(backend, {
            base,
            refiner,
            level: "block",
            providers: ["webgpu"],
            weightMode,
            form,
            block: { batch: 2, guided, plans: [parsePlan("H1P5R3")] },
          });
          if (m.provider !== "webgpu") throw new Error(`${name}: block sessions ran on ${m.provider}`);
          const what = `${name} ${form} block ${guided ? "guided" : "cfg 1"} ${weightMode}`;
          if (weightMode === "shared") sessions.push(`${what}: weight upload`);
          sessions.push(`${what}: H`, `${what}: P`, `${what}: R`);
          await m.release();
        }
      }
    }
  }
  await backend.close();
  process.stdout.write(`${JSON.stringify({ sessions })}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
  process.exitCode = 1;
});
