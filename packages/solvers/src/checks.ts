// Run-time checks shared by the solvers and the scheduler: abort signals and non-finite values.
import type { AbortSignalLike } from "./types";
import type { VectorOps } from "./vectorOps";

/** Throws the signal's reason when it is aborted (what `AbortSignal.throwIfAborted` does). */
export function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error("aborted");
}

/** Which value was not finite. */
export type NonFiniteSource = "velocity" | "refiner" | "noise" | "model output";

/** A model output (or SDE noise) held NaN or an infinity; see the `checkFinite` option. */
export class NonFiniteError extends Error {
  /** What produced the value. */
  readonly source: NonFiniteSource;
  /** Time of the call. */
  readonly t: number;
  /** Solver step in progress (0-based). */
  readonly step: number;
  /** Index of the first non-finite element. */
  readonly index: number;
  constructor(source: NonFiniteSource, t: number, step: number, index: number) {
    super(
      `${source} at t=${t} (step ${step}) is not finite at element ${index}; ` +
        "pass checkFinite: false to let non-finite values through",
    );
    this.name = "NonFiniteError";
    this.source = source;
    this.t = t;
    this.step = step;
    this.index = index;
  }
}

/**
 * The check `checkFinite` asks for: `undefined` when it is off (explicitly, or by default because
 * the ops cannot check), else a function that throws a NonFiniteError for a non-finite value.
 */
export function finiteCheck<T>(
  ops: VectorOps<T>,
  checkFinite: boolean | undefined,
): ((x: T, source: NonFiniteSource, t: number, step: number) => void) | undefined {
  if (checkFinite === false) return undefined;
  const first = ops.firstNonFinite?.bind(ops);
  if (!first) {
    if (checkFinite) throw new TypeError("checkFinite: true needs ops with firstNonFinite");
    return undefined;
  }
  return (x, source, t, step) => {
    const i = first(x);
    if (i >= 0) throw new NonFiniteError(source, t, step, i);
  };
}
