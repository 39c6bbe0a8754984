// The worker's compile ahead of the first Generate (a "prepare"): which later messages still want it.
import { blockPlanOf, type FlowTurboPipeline, type GenerateParams, parseMethod } from "@flowturbo/pipeline";
import type { GenerateRequest, ToWorker } from "./protocol";

/** The pipeline's session id of a request, or undefined when it is not a valid one. */
function sessionsIdOf(pl: FlowTurboPipeline, request: GenerateRequest): string | undefined {
  try {
    return pl.sessionsId({ ...request, method: parseMethod(request.method) });
  } catch {
    return undefined;
  }
}

/**
 * Whether a compile ahead for `ahead` stays wanted when `next` reaches the worker: only a Generate on the
 * same sessions (other seed, classes or plan of the same block kinds) reuses it; a load, another prepare
 * or a Generate on other settings drop it.
 */
export function keepsAhead(
  pl: FlowTurboPipeline | undefined,
  ahead: GenerateRequest,
  next: Exclude<ToWorker, { type: "cancel" }>,
): boolean {
  if (!pl || next.type !== "generate") return false;
  const id = sessionsIdOf(pl, next.request);
  return id !== undefined && id === sessionsIdOf(pl, ahead);
}

/**
 * A request that runs every block graph of `params` once, on the same sessions: the plan with one block
 * per run of blocks (H1P5R3 -> H1P1R1). The first runs of fresh sessions are the slowest (ONNX Runtime's
 * first-run work, the browser's WebAssembly tier-up, WebGPU's shaders); a warm-up after compiling ahead
 * takes them before the first click. Undefined when the request is not block-compiled.
 */
export function warmUpRequest(pl: FlowTurboPipeline, params: GenerateParams): GenerateParams | undefined {
  if (pl.compileLevel(params) !== "block") return undefined;
  const plan = blockPlanOf(params.method);
  if (!plan) return undefined;
  const warm: GenerateParams = {
    ...params,
    method: parseMethod({ plan: plan.segments.map((s) => `${s.kind}1`).join("") }),
    compile: "block",
    decode: false,
  };
  return pl.sessionsId(warm) === pl.sessionsId(params) ? warm : undefined;
}
