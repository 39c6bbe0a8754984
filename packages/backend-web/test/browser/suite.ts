// Runs in Chromium (page or Web Worker): the conformance suite on one provider, plus a WebGPU device-tensor
// round trip. Bundled by harness.ts; onnxruntime-web itself is served from node_modules/onnxruntime-web/dist.
import { type ConformanceResult, conformanceCases, isDeviceTensor, runConformance } from "@flowturbo/core";
import { Graph, op, Tensor } from "@flowturbo/tensor";
import { createWebBackend } from "../../src";

export interface TripReport {
  provider: string;
  firstLocation: string;
  secondLocation: string;
  values: number[];
  disposedError: string;
}

export interface SuiteReport {
  where: "page" | "worker";
  provider: string;
  webgpu: boolean;
  adapter?: string;
  providers: string[];
  reasons: string[];
  results: ConformanceResult[];
  ms: number;
  trip?: TripReport;
  error?: string;
}

type Gpu = { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> };

async function adapterName(): Promise<string | undefined> {
  const gpu = (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
  if (!gpu) return undefined;
  const a = await gpu.requestAdapter();
  return a ? `${a.info?.vendor ?? "?"}/${a.info?.architecture ?? "?"}` : undefined;
}

const backend = createWebBackend({ wasmPaths: "/ort/" });

/** Output kept on the GPU, fed back into run(), downloaded once. */
async function roundTrip(): Promise<TripReport> {
  const g = new Graph("round_trip");
  const x = g.input("x", "float32", [2, 3]);
  g.output("y", op.add(op.mul(x, 2), 1));
  const s = await backend.load({ graph: g }, { providers: ["webgpu"], keepOnDevice: ["y"] });
  const y1 = (await s.run({ x: Tensor.from("float32", [2, 3], [0, 1, 2, 3, 4, 5]) })).y;
  const y2 = (await s.run({ x: y1 })).y;
  if (!isDeviceTensor(y1) || !isDeviceTensor(y2))
    throw new Error("keepOnDevice output came back on the host");
  const values = Array.from((await y2.download()).data as Float32Array);
  y1.dispose();
  y2.dispose();
  const disposedError = await y2.download().then(
    () => "",
    (e: Error) => e.message,
  );
  await s.release();
  return {
    provider: s.provider,
    firstLocation: y1.location,
    secondLocation: y2.location,
    values,
    disposedError,
  };
}

/** Runs the conformance cases (all, or those named in `only`) on one provider. */
export async function runSuite(
  provider: "wasm" | "webgpu",
  where: "page" | "worker",
  only?: readonly string[],
): Promise<SuiteReport> {
  const adapter = await adapterName();
  const report: SuiteReport = {
    where,
    provider,
    webgpu: adapter !== undefined,
    adapter,
    providers: [],
    reasons: [],
    results: [],
    ms: 0,
  };
  if (provider === "webgpu" && !adapter) return report;
  const used = new Set<string>();
  const reasons = new Set<string>();
  try {
    const t0 = performance.now();
    report.results = await runConformance(
      {
        name: backend.name,
        providers: () => backend.providers(),
        load: async (source, opts) => {
          const s = await backend.load(source, opts);
          used.add(s.provider);
          if (s.fallbackReason) reasons.add(s.fallbackReason);
          return s;
        },
      },
      { providers: [provider] },
      conformanceCases().filter((c) => !only || only.includes(c.name)),
    );
    report.ms = performance.now() - t0;
    if (provider === "webgpu") report.trip = await roundTrip();
  } catch (e) {
    report.error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
  }
  report.providers = [...used];
  report.reasons = [...reasons];
  return report;
}
