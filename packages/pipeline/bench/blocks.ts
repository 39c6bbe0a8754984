// Sample-aware compilation benchmark (paper Table 3a): ms/image of FlowTurbo plans and their Heun
// baselines at each compile level, in one process, on ORT CPU:
//   none        per-call sessions (SiT, refiner), ORT graph optimization "disabled"
//   model       per-call sessions, optimization "all"
//   block       one static graph per H/P/R block, weights fed as shared inputs (one resident copy)
//   block-init  the same block graphs with the weights as initializers (a copy per block graph)
// Models: SiT-S/2 at 256 (latent 4x32x32, procedural weights) and the embedded emoji model (pixels
// 3x32x32; its files from --emoji-dir when present, else its architecture with procedural weights).
// Runs are interleaved (run r of every level and method before run r+1) so that load drift on a
// shared machine hits all levels alike; the median of --runs runs after one warm-up run.
// Every level's host transfers are reported (block levels: state uploads, downloads, state outputs
// that came back to the host, where the state lived), so `--provider webgpu` measures the "no
// per-step copy to the host" property (test/blocks.test.ts runs that on SwiftShader).
// Usage: pnpm bench:blocks [--models s2,emoji,tiny] [--batch 1] [--runs 5] [--threads 1] [--cfg 1.5]
//        [--plans H1P5R3,H8P9R5] [--heun 8,11] [--levels none,model,block,block-init] [--provider cpu]
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createNodeBackend } from "@flowturbo/backend-node";
import type { ExecutionProvider, Session } from "@flowturbo/core";
import { refinerConfig, refinerGraph } from "@flowturbo/refiner";
import { proceduralWeights, type SiTConfig, sitConfig, sitGraph } from "@flowturbo/sit";
import { loadModelFile } from "@flowturbo/sit/node";
import type { Tensor } from "@flowturbo/tensor";
import {
  blockPlanOf,
  blockWeights,
  type CompiledBlocks,
  compileBlocks,
  compileSessionOptions,
  parseMethod,
  type SampleResult,
  type SamplingMethod,
  sample,
} from "../src";

const { values } = parseArgs({
  options: {
    models: { type: "string", default: "s2,emoji" },
    batch: { type: "string", default: "1" },
    runs: { type: "string", default: "5" },
    threads: { type: "string", default: "1" },
    cfg: { type: "string", default: "1.5" },
    plans: { type: "string", default: "H1P5R3,H8P9R5" },
    heun: { type: "string", default: "8,11" },
    levels: { type: "string", default: "none,model,block,block-init" },
    "emoji-dir": { type: "string", default: join(import.meta.dirname, "../../../models/emoji") },
    provider: { type: "string", default: "cpu" },
  },
});
const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const batch = Number(values.batch);
const runs = Number(values.runs);
const threads = Number(values.threads);
const cfgScale = Number(values.cfg);
type Level = "none" | "model" | "block" | "block-init";
const levels = list(values.levels!) as Level[];
const provider = values.provider as ExecutionProvider;
const providers = [provider];
const methods: { name: string; method: SamplingMethod }[] = [
  ...list(values.plans!).map((p) => ({ name: p, method: parseMethod({ plan: p }) })),
  ...list(values.heun!).map((k) => ({ name: `Heun H${k}`, method: parseMethod({ plan: `H${k}` }) })),
];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface ModelSpec {
  name: string;
  base: SiTConfig;
  baseWeights: Map<string, Tensor>;
  refinerWeights: Map<string, Tensor>;
  weights: string;
}

async function modelSpec(id: string): Promise<ModelSpec> {
  if (id === "s2") {
    const base = sitConfig("S", 2);
    return {
      name: "SiT-S/2 @256 (latent 4x32x32)",
      base,
      baseWeights: proceduralWeights(sitGraph(base)),
      refinerWeights: proceduralWeights(refinerGraph(refinerConfig(base))),
      weights: "procedural",
    };
  }
  if (id === "emoji") {
    const dir = values["emoji-dir"]!;
    const [bf, rf] = [join(dir, "base.safetensors"), join(dir, "refiner.safetensors")];
    if (existsSync(bf) && existsSync(rf)) {
      const b = await loadModelFile(bf);
      const r = await loadModelFile(rf);
      return {
        name: "emoji (pixels 3x32x32)",
        base: b.config,
        baseWeights: b.weights,
        refinerWeights: r.weights,
        weights: `${dir} (base + refiner files)`,
      };
    }
    // the embedded model's architecture (models/emoji card): SiT 32x32x3, patch 4, width 128, depth 5, 2 heads, 24 classes
    const base: SiTConfig = {
      inputSize: 32,
      patchSize: 4,
      inChannels: 3,
      outChannels: 3,
      keepChannels: 3,
      hiddenSize: 128,
      depth: 5,
      numHeads: 2,
      numClasses: 24,
      mlpRatio: 4,
    };
    return {
      name: "emoji (pixels 3x32x32)",
      base,
      baseWeights: proceduralWeights(sitGraph(base)),
      refinerWeights: proceduralWeights(refinerGraph(refinerConfig(base))),
      weights: `procedural (no model files in ${dir}; the architecture of the embedded model)`,
    };
  }
  if (id === "tiny") {
    // the golden set's tiny SiT (input 8x8x4, patch 2, width 64, depth 2, 4 heads): quick checks
    const base: SiTConfig = { ...sitConfig("S", 2), inputSize: 8, hiddenSize: 64, depth: 2, numHeads: 4 };
    return {
      name: "tiny (latent 4x8x8)",
      base,
      baseWeights: proceduralWeights(sitGraph(base)),
      refinerWeights: proceduralWeights(refinerGraph(refinerConfig(base))),
      weights: "procedural",
    };
  }
  throw new Error(`unknown model '${id}' (s2, emoji, tiny)`);
}

const backend = createNodeBackend({ threads, providers });
const report: Record<string, unknown>[] = [];
console.log(
  `ORT ${provider} (onnxruntime-node 1.30, worker mode), ${threads} intra-op thread(s), ${cpus().length} cores (${cpus()[0]?.model}); batch ${batch}, cfg ${cfgScale}, median of ${runs} runs after 1 warm-up, runs interleaved across levels`,
);

for (const id of list(values.models!)) {
  const spec = await modelSpec(id);
  const base = spec.base;
  const refCfg = refinerConfig(base);
  const shape = [base.keepChannels, base.inputSize, base.inputSize];
  const labels = Array.from({ length: batch }, (_, i) => (3 * i + 1) % base.numClasses);
  // per level: how to run one method, load time, what to release
  const runners = new Map<
    Level,
    {
      run: (m: SamplingMethod) => Promise<SampleResult>;
      loadMs: number;
      note: string;
      provider: string;
      weightsLocation: string;
    }
  >();
  const toRelease: (Session | CompiledBlocks)[] = [];
  const common = { shape, labels, nullClass: base.numClasses, seed: 0, cfgScale, batchSize: batch };
  for (const level of levels) {
    const t0 = performance.now();
    if (level === "none" || level === "model") {
      const opts = { ...compileSessionOptions(level), threads, providers };
      const b = await backend.load({ graph: sitGraph(base), weights: spec.baseWeights }, opts);
      const r = await backend.load({ graph: refinerGraph(refCfg), weights: spec.refinerWeights }, opts);
      toRelease.push(b, r);
      runners.set(level, {
        run: (method) => sample({ ...common, base: b, refiner: r, method }),
        loadMs: performance.now() - t0,
        note: `per-call sessions, optimization ${opts.optimization}`,
        provider: b.provider,
        weightsLocation: "initializers",
      });
    } else {
      const compiled = await compileBlocks(backend, {
        base,
        refiner: refCfg,
        batch,
        guidance: cfgScale !== 1 ? { channels: "sit" } : undefined,
        weights: blockWeights(spec.baseWeights, spec.refinerWeights),
        plans: methods.map((m) => blockPlanOf(m.method)!),
        weightMode: level === "block" ? "shared" : "initializers",
        session: { threads, providers },
      });
      toRelease.push(compiled);
      runners.set(level, {
        run: (method) => sample({ ...common, compile: "block", blocks: compiled.sessions, method }),
        loadMs: performance.now() - t0,
        note:
          level === "block"
            ? `block graphs, weights as inputs (one copy, ${compiled.weights.location})`
            : "block graphs, weights as initializers (a copy per graph)",
        provider: compiled.sessions[compiled.graphs.H ? "H" : "R"]!.provider,
        weightsLocation: compiled.weights.location ?? "initializers",
      });
    }
  }

  // warm-up (and outputs for the cross-level check), then interleaved timed runs
  const ms = new Map<string, number[]>();
  const outputs = new Map<string, SampleResult>();
  const key = (l: Level, m: string) => `${l}|${m}`;
  for (const m of methods)
    for (const level of levels) outputs.set(key(level, m.name), await runners.get(level)!.run(m.method));
  for (let r = 0; r < runs; r++) {
    for (const m of methods) {
      for (const level of levels) {
        const t0 = performance.now();
        await runners.get(level)!.run(m.method);
        const k = key(level, m.name);
        ms.set(k, [...(ms.get(k) ?? []), (performance.now() - t0) / batch]);
      }
    }
    process.stderr.write(`${spec.name}: run ${r + 1}/${runs} done\n`);
  }
  for (const x of toRelease) await x.release();

  // max |level - model| of the final samples (same noise), as a check that every level computes the same thing
  const ref = levels.includes("model") ? "model" : levels[0];
  const maxDiff = (level: Level) => {
    let d = 0;
    for (const m of methods) {
      const a = outputs.get(key(level, m.name))!.latents.data as Float32Array;
      const b = outputs.get(key(ref, m.name))!.latents.data as Float32Array;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    }
    return d;
  };

  const med = (l: Level, m: string) => median(ms.get(key(l, m))!);
  console.log(`\n${spec.name}, weights: ${spec.weights}`);
  const w = 12;
  console.log(
    `${"level".padEnd(12)}${methods.map((m) => m.name.padStart(w)).join("")}   load s   max|diff| vs ${ref}`,
  );
  for (const level of levels) {
    console.log(
      `${level.padEnd(12)}${methods.map((m) => med(level, m.name).toFixed(1).padStart(w)).join("")}${(runners.get(level)!.loadMs / 1000).toFixed(1).padStart(9)}   ${maxDiff(level).toExponential(1)}`,
    );
  }
  if (levels.includes("none")) {
    console.log("speed-up over none (ms none / ms level):");
    for (const level of levels.filter((l) => l !== "none"))
      console.log(
        `${`  ${level}`.padEnd(12)}${methods.map((m) => `x${(med("none", m.name) / med(level, m.name)).toFixed(2)}`.padStart(w)).join("")}`,
      );
  }
  const plans = methods.filter((m) => !m.name.startsWith("Heun"));
  const heuns = methods.filter((m) => m.name.startsWith("Heun"));
  if (plans.length && heuns.length) {
    console.log("FlowTurbo speed-up over Heun (ms Heun / ms plan), per level:");
    for (let i = 0; i < plans.length; i++) {
      const h = heuns[Math.min(i, heuns.length - 1)];
      console.log(
        `  ${plans[i].name} vs ${h.name}: ${levels.map((l) => `${l} x${(med(l, h.name) / med(l, plans[i].name)).toFixed(2)}`).join(", ")}`,
      );
    }
  }
  report.push({
    model: spec.name,
    weights: spec.weights,
    batch,
    cfg: cfgScale,
    runs,
    levels: Object.fromEntries(
      levels.map((l) => [
        l,
        {
          note: runners.get(l)!.note,
          provider: runners.get(l)!.provider,
          weightsLocation: runners.get(l)!.weightsLocation,
          loadSeconds: runners.get(l)!.loadMs / 1000,
          maxAbsDiffVsRef: maxDiff(l),
          msPerImage: Object.fromEntries(methods.map((m) => [m.name, med(l, m.name)])),
          runsMs: Object.fromEntries(methods.map((m) => [m.name, ms.get(key(l, m.name))])),
          nfe: Object.fromEntries(methods.map((m) => [m.name, outputs.get(key(l, m.name))!.nfe])),
          transfers: Object.fromEntries(
            methods.map((m) => [m.name, outputs.get(key(l, m.name))!.transfers ?? null]),
          ),
        },
      ]),
    ),
  });
}
await backend.close();
console.log(
  JSON.stringify({
    bench: "blocks",
    provider,
    threads,
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    results: report,
  }),
);
