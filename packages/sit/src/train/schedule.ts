// Learning-rate schedules as pure functions of the 0-based step (so resumed runs continue them exactly):
// linear warm-up, then constant, cosine or linear decay over a fixed horizon that does not depend on
// --steps (a run extended with --resume keeps its schedule; past the horizon the final value holds).
// The decay may start late ("linear:S-H": hold the peak until step S, then decay until H): a run can go
// on at a constant rate and be given its cool-down once its length is known (warmup-stable-decay), as
// long as the new schedule agrees with the steps already taken (`sameSchedulePast`).

export interface LrSchedule {
  kind: "constant" | "cosine" | "linear";
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up from lr/warmup to lr over the first `warmup` steps (0: none). */
  warmup: number;
  /** Step at which the decay reaches `minLr` (cosine/linear). */
  horizon: number;
  /** Step at which the decay starts (default: the end of the warm-up). */
  decayStart: number;
  /** Final learning rate (default 0). */
  minLr: number;
}

/**
 * Parses "constant", "cosine:H" or "linear:H" (H = the step where the decay ends), "cosine:S-H" /
 * "linear:S-H" (the decay starts at step S instead of the end of the warm-up), optionally "@MIN".
 */
export function parseLrSchedule(spec: string, lr: number, warmup = 0): LrSchedule {
  const m = /^(constant|cosine|linear)(?::(?:(\d+)-)?(\d+))?(?:@([0-9.eE+-]+))?$/.exec(spec.trim());
  if (!m)
    throw new Error(
      `learning-rate schedule must be constant, cosine:STEPS, linear:STEPS or linear:START-STEPS, got '${spec}'`,
    );
  if (!Number.isInteger(warmup) || warmup < 0)
    throw new Error(`warm-up must be an integer >= 0, got ${warmup}`);
  const kind = m[1] as LrSchedule["kind"];
  const horizon = m[3] === undefined ? 0 : Number(m[3]);
  const decayStart = m[2] === undefined ? warmup : Number(m[2]);
  if (kind !== "constant" && !(horizon > decayStart && decayStart >= warmup))
    throw new Error(
      `schedule ${spec}: the decay must start at or after the warm-up (${warmup}) and end after it starts`,
    );
  const minLr = m[4] === undefined ? 0 : Number(m[4]);
  if (!Number.isFinite(minLr) || minLr < 0 || minLr > lr)
    throw new Error(`schedule ${spec}: the final rate must be in [0, ${lr}]`);
  return { kind, lr, warmup, horizon, decayStart, minLr };
}

/** The learning rate of 0-based step s. */
export function lrAt(s: LrSchedule, step: number): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (s.kind === "constant" || step < s.decayStart) return s.lr;
  const f = Math.min(1, (step - s.decayStart) / (s.horizon - s.decayStart));
  const shape = s.kind === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * f)) : 1 - f;
  return s.minLr + (s.lr - s.minLr) * shape;
}

/** Whether two schedules give the same rate at every step before `steps` (a resume may change only the future). */
export function sameSchedulePast(a: LrSchedule, b: LrSchedule, steps: number): boolean {
  for (let i = 0; i < steps; i++) if (lrAt(a, i) !== lrAt(b, i)) return false;
  return true;
}
