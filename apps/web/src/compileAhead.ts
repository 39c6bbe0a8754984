// The worker's compile ahead of the first Generate (a "prepare"): which later messages still want it.
import { type FlowTurboPipeline, parseMethod } from "@flowturbo/pipeline";
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
