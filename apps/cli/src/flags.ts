// Flag parsing shared by every command: numbers, lists, and the sampling flags (method, compile level,
// guidance, classes, backend) turned into @flowturbo/pipeline's checked values. Each failure is a
// UsageError that names the flag.
import type { ExecutionProvider } from "@flowturbo/core";
import {
  type CompileLevel,
  COMPILE_LEVELS,
  MethodError,
  type MethodInput,
  type Problem,
  parseMethod,
  type SamplingMethod,
} from "@flowturbo/pipeline";
import { labelsForSamples } from "@flowturbo/tensor";
import { type CommandContext, UsageError } from "./cli";

type Values = CommandContext["values"];

/**
 * An integer flag in min..max (undefined when absent). Without `max`, any integer a double holds exactly;
 * flags that size memory or work pass their limit, so that `--batch 1e9` is refused before any work.
 */
export function parseIntFlag(
  value: unknown,
  flag: string,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(
      max === Number.MAX_SAFE_INTEGER && !(n > max)
        ? `${flag} must be an integer >= ${min}, got '${value}'`
        : `${flag} must be an integer in ${min}..${max}, got '${value}'`,
    );
  return n;
}

export function parseFloatFlag(value: unknown, flag: string, min = 0, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`${flag} must be a number in [${min}, ${max}], got '${value}'`);
  return n;
}

/** A comma-separated flag as trimmed items (`fallback` when the flag is absent). */
export function listFlag(value: unknown, fallback: string): string[] {
  return String(value ?? fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The flag each method field comes from. */
const METHOD_FLAGS: Record<MethodError["field"], string> = {
  plan: "--plan",
  solver: "--solver",
  steps: "--steps",
  atol: "--atol",
  rtol: "--rtol",
};

/** A method input (--plan, or --solver with --steps) checked by the pipeline; errors name the flag. */
export function methodFromInput(
  input: MethodInput,
  flags: Partial<Record<MethodError["field"], string>> = {},
): SamplingMethod {
  try {
    return parseMethod(input);
  } catch (e) {
    if (e instanceof MethodError)
      throw new UsageError(`${flags[e.field] ?? METHOD_FLAGS[e.field]}: ${e.message}`);
    throw e;
  }
}

/** --plan fast|quality|H{a}P{b}R{c}, or --solver NAME [--steps N]. */
export function methodFlags(v: Values): SamplingMethod {
  return methodFromInput({
    plan: v.plan as string | undefined,
    solver: v.solver as string | undefined,
    steps: parseIntFlag(v.steps, "--steps"),
  });
}

/** --compile none|model|block (undefined: the pipeline's default for the method). */
export function compileFlag(value: unknown): CompileLevel | undefined {
  if (value === undefined) return undefined;
  if (!(COMPILE_LEVELS as readonly string[]).includes(String(value)))
    throw new UsageError(`--compile must be one of ${COMPILE_LEVELS.join(", ")}, got '${value}'`);
  return value as CompileLevel;
}

/** The flag of each request field the pipeline checks. */
const PROBLEM_FLAGS: Record<Problem["field"], string> = {
  method: "--plan/--solver",
  compile: "--compile",
  cfg: "--cfg",
  samples: "--n",
  labels: "--class",
  noise: "--noise",
  batch: "--batch",
  refiner: "--refiner",
  vae: "--vae",
  seed: "--seed",
};

/** The pipeline's objections to a request as one usage error naming the flags (none: returns). */
export function refuseProblems(problems: readonly Problem[]): void {
  if (problems.length)
    throw new UsageError(problems.map((p) => `${PROBLEM_FLAGS[p.field]}: ${p.message}`).join("; "));
}

const BACKENDS: Record<string, ExecutionProvider> = { cpu: "cpu", cuda: "cuda", webgpu: "webgpu" };

/** --backend cpu|cuda|webgpu (default cpu). */
export function backendFlag(value: unknown): ExecutionProvider {
  const provider = BACKENDS[(value as string | undefined) ?? "cpu"];
  if (!provider) throw new UsageError(`--backend must be cpu, cuda or webgpu, got '${value}'`);
  return provider;
}

/**
 * Labels of the samples with global indices first .. first+count-1. --class: ids or (for models that
 * record them) class names, comma-separated; sample g gets list[g mod length]. Without --class: the
 * counter-based labelForSample(seed, g, numClasses), so a shard gets the same labels as the whole run.
 */
export function classFlag(
  value: unknown,
  first: number,
  count: number,
  numClasses: number,
  seed: number,
  names?: readonly string[],
): number[] {
  if (value === undefined) return Array.from(labelsForSamples(seed, first, count, numClasses));
  const ids = String(value)
    .split(",")
    .map((s) => s.trim());
  const out = ids.map((s) => {
    if (s === "")
      throw new UsageError(`--class: an empty class in '${value}' (give ids or names separated by commas)`);
    const byName = names?.findIndex((name) => name.toLowerCase() === s.toLowerCase()) ?? -1;
    if (byName >= 0) return byName;
    const c = Number(s);
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      const known = names?.length ? ` or one of: ${names.join(", ")}` : "";
      throw new UsageError(`--class: '${s}' is not a class id in 0..${numClasses - 1}${known}`);
    }
    return c;
  });
  return Array.from({ length: count }, (_, i) => out[(first + i) % out.length]);
}
