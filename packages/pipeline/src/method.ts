// How to integrate, parsed once: a FlowTurbo plan (or preset) or a baseline solver. Every caller (CLI
// flags, web form, URL parameters, job specs) gives a MethodInput; parseMethod checks it once and the
// typed SamplingMethod travels from there (the plan string is never parsed again).
import {
  type FixedStepMethod,
  formatPlan,
  type Plan,
  PlanError,
  parsePlan,
  planFromCounts,
} from "@flowturbo/solvers";

/** FlowTurbo's presets (the paper's fastest and best plans on SiT-XL/2). */
export const PLAN_PRESETS: Readonly<Record<"fast" | "quality", string>> = Object.freeze({
  fast: "H1P5R3",
  quality: "H8P9R5",
});

export const FIXED_STEP_SOLVERS: readonly FixedStepMethod[] = ["euler", "midpoint", "heun", "rk4", "rk4_38"];
/** Every baseline: the fixed-step solvers, adaptive dopri5 (SiT's ODE sampler) and SiT's SDE sampler. */
export const BASELINE_SOLVERS = [...FIXED_STEP_SOLVERS, "dopri5", "sde"] as const;
export type BaselineSolver = (typeof BASELINE_SOLVERS)[number];

/** The most steps (plan blocks, solver steps, SDE grid points) a method may take. */
export const MAX_STEPS = 1000;
/** SiT's SDE grid (linspace(0, 0.96, 250) then a last step). */
export const SDE_DEFAULT_STEPS = 250;
/** SiT's dopri5 tolerances (torchdiffeq). */
export const DOPRI5_DEFAULTS = Object.freeze({ atol: 1e-6, rtol: 1e-3 });

/** What a caller asks for (flags, form fields, JSON): a plan or a solver, and its steps or tolerances. */
export interface MethodInput {
  /** "fast", "quality" or H{a}P{b}R{c} (any order of runs). */
  plan?: string;
  solver?: string;
  /** Steps of a fixed-step solver or SDE grid points (SDE default 250). */
  steps?: number;
  atol?: number;
  rtol?: number;
}

/** A checked method. `spec` is its JSON form (manifests, --json output, the web app's messages). */
export type SamplingMethod =
  | { kind: "plan"; plan: Plan; text: string; spec: { plan: string } }
  | {
      kind: "fixed";
      solver: FixedStepMethod;
      steps: number;
      spec: { solver: FixedStepMethod; steps: number };
    }
  | { kind: "dopri5"; atol: number; rtol: number; spec: { solver: "dopri5"; atol?: number; rtol?: number } }
  | { kind: "sde"; steps: number; spec: { solver: "sde"; steps?: number } };

/** A method input that cannot be used; `field` names the input at fault. */
export class MethodError extends Error {
  constructor(
    readonly field: "plan" | "solver" | "steps" | "atol" | "rtol",
    message: string,
  ) {
    super(message);
    this.name = "MethodError";
  }
}

function checkSteps(steps: number | undefined, what: string, required: boolean): number | undefined {
  if (steps === undefined) {
    if (required) throw new MethodError("steps", `${what} needs a number of steps`);
    return undefined;
  }
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS)
    throw new MethodError("steps", `steps must be an integer in 1..${MAX_STEPS}, got ${steps}`);
  return steps;
}

function checkTolerance(v: number | undefined, field: "atol" | "rtol"): number | undefined {
  if (v === undefined) return undefined;
  if (!(v > 0 && v < 1)) throw new MethodError(field, `${field} must be a number in (0, 1), got ${v}`);
  return v;
}

/** A plan from its text or a preset name. */
export function parsePlanMethod(text: string): SamplingMethod & { kind: "plan" } {
  const preset = PLAN_PRESETS[text.trim().toLowerCase() as keyof typeof PLAN_PRESETS];
  let plan: Plan;
  try {
    plan = parsePlan(preset ?? text);
  } catch (e) {
    if (e instanceof PlanError)
      throw new MethodError(
        "plan",
        `${e.message} (presets: fast = ${PLAN_PRESETS.fast}, quality = ${PLAN_PRESETS.quality})`,
      );
    throw e;
  }
  if (plan.steps > MAX_STEPS)
    throw new MethodError("plan", `plan ${formatPlan(plan)} has ${plan.steps} steps; at most ${MAX_STEPS}`);
  const canonical = formatPlan(plan);
  return { kind: "plan", plan, text: canonical, spec: { plan: canonical } };
}

/**
 * Checks a method input: exactly one of plan and solver (neither: the "fast" preset), steps only
 * where they mean something, every number in range. Throws MethodError naming the field.
 */
export function parseMethod(input: MethodInput): SamplingMethod {
  const { plan, solver } = input;
  if (plan !== undefined && solver !== undefined)
    throw new MethodError(
      "solver",
      "give a plan or a solver, not both: a plan is FlowTurbo, a solver is a baseline",
    );
  if (solver === undefined) {
    if (input.steps !== undefined)
      throw new MethodError("steps", "steps go with a solver; a plan's steps are its blocks (e.g. H2P4R2)");
    if (input.atol !== undefined || input.rtol !== undefined)
      throw new MethodError(
        input.atol !== undefined ? "atol" : "rtol",
        "tolerances go with the dopri5 solver",
      );
    return parsePlanMethod(plan ?? "fast");
  }
  if (!(BASELINE_SOLVERS as readonly string[]).includes(solver))
    throw new MethodError("solver", `solver must be one of ${BASELINE_SOLVERS.join(", ")}, got '${solver}'`);
  if (solver !== "dopri5" && (input.atol !== undefined || input.rtol !== undefined))
    throw new MethodError(
      input.atol !== undefined ? "atol" : "rtol",
      `tolerances go with dopri5, not ${solver}`,
    );
  if (solver === "dopri5") {
    if (input.steps !== undefined)
      throw new MethodError("steps", "dopri5 chooses its own steps: give atol/rtol instead of steps");
    const atol = checkTolerance(input.atol, "atol");
    const rtol = checkTolerance(input.rtol, "rtol");
    return {
      kind: "dopri5",
      atol: atol ?? DOPRI5_DEFAULTS.atol,
      rtol: rtol ?? DOPRI5_DEFAULTS.rtol,
      spec: {
        solver: "dopri5",
        ...(atol === undefined ? {} : { atol }),
        ...(rtol === undefined ? {} : { rtol }),
      },
    };
  }
  if (solver === "sde") {
    const steps = checkSteps(input.steps, "sde", false);
    if (steps !== undefined && steps < 2)
      throw new MethodError("steps", "the SDE grid needs at least 2 points (steps >= 2)");
    return {
      kind: "sde",
      steps: steps ?? SDE_DEFAULT_STEPS,
      spec: { solver: "sde", ...(steps ? { steps } : {}) },
    };
  }
  const fixed = solver as FixedStepMethod;
  const steps = checkSteps(input.steps, `solver ${fixed}`, true)!;
  return { kind: "fixed", solver: fixed, steps, spec: { solver: fixed, steps } };
}

/** The input a method was parsed from (its JSON form): parseMethod(methodInput(m)) is m again. */
export function methodInput(m: SamplingMethod): MethodInput {
  return { ...m.spec };
}

/** The plan ("H1P5R3") or the solver's name ("heun", "dopri5"). */
export function methodName(m: SamplingMethod): string {
  return m.kind === "plan" ? m.text : m.kind === "fixed" ? m.solver : m.kind;
}

/** "plan H1P5R3", "heun, 8 steps", "dopri5 (atol 1e-6, rtol 1e-3)", "sde, 250 steps". */
export function methodLabel(m: SamplingMethod): string {
  switch (m.kind) {
    case "plan":
      return `plan ${m.text}`;
    case "fixed":
      return `${m.solver}, ${m.steps} step${m.steps === 1 ? "" : "s"}`;
    case "dopri5":
      return `dopri5 (atol ${m.atol}, rtol ${m.rtol})`;
    case "sde":
      return `sde, ${m.steps} steps`;
  }
}

/**
 * The FlowTurbo plan a method runs as when its blocks are compiled: a plan is itself, Heun with N steps
 * is plan HN (FlowTurbo's H block is a Heun step); other solvers have none.
 */
export function blockPlanOf(m: SamplingMethod): Plan | undefined {
  if (m.kind === "plan") return m.plan;
  if (m.kind === "fixed" && m.solver === "heun")
    return planFromCounts({ heun: m.steps, pseudo: 0, refine: 0 });
  return undefined;
}

/** True when the method calls the velocity refiner (a plan with R blocks). */
export function usesRefiner(m: SamplingMethod): boolean {
  return m.kind === "plan" && m.plan.counts.R > 0;
}
