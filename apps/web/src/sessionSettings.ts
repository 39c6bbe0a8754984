// How the worker opens ONNX Runtime Web sessions for a model: threads, and the pipeline's session options
// per provider. Measured on the embedded emoji model (docs/benchmarks.md, "Browser speed"). No DOM or
// worker code (Node tests run it).
import type { ExecutionProvider } from "@flowturbo/core";
import type { PipelineOptions } from "@flowturbo/pipeline";

/** Models up to this many parameters keep several compiled session sets (a few MB of weights each). */
export const SMALL_MODEL_PARAMETERS = 50e6;

/** ORT's WASM threads: up to 4 where SharedArrayBuffer allows threads (cross-origin isolated pages), else 1. */
export function wasmThreads(crossOriginIsolated: boolean, cores: number): number {
  return crossOriginIsolated ? Math.max(1, Math.min(4, cores)) : 1;
}

/**
 * The pipeline's session options for these providers (the first one runs the model) and a model of
 * `parameters` parameters:
 * - WASM: block graphs embed their weights (ORT prepacks them and folds their transposes once; fed as
 *   inputs, every run re-packs them: about 2x slower runs) and ORT's "basic" optimization level (the
 *   fused graph form needs no more; the higher levels run more of ORT's optimizer and bring in more
 *   kernels, which a fresh page compiles and runs cold: slower session creation and first image), and no
 *   H block graph (`heunAsP`: H blocks run as two runs of the P graph, the same samples): one large
 *   session fewer to build and to run cold in the first Generate (page open -> first image 0.5-0.8 s
 *   sooner, docs/benchmarks.md), for one more session run per H block.
 * - WebGPU: one shared copy of the weights in GPU buffers (what large models need), ORT's default level,
 *   and the plain graph form (the pipeline's graphFormFor chooses it on WebGPU too): ORT 1.30's WebGPU
 *   MultiHeadAttention is off from 32 tokens on (the emoji SiT has 64: a forward 0.5 away from ORT CPU's,
 *   images 1.1 away in the app), the plain form matches (2e-4).
 * - Small models keep the sessions of the last 4 settings (batch, guidance on/off, block kinds), so going
 *   back to earlier settings compiles nothing; large ones keep one set.
 */
export function pipelineOptions(
  providers: readonly ExecutionProvider[],
  parameters: number,
): PipelineOptions {
  const wasm = providers[0] === "wasm";
  return {
    providers,
    keepSessions: parameters <= SMALL_MODEL_PARAMETERS ? 4 : 1,
    ...(wasm ? { weightMode: "initializers", optimization: "basic", heunAsP: true } : { form: "plain" }),
  };
}
