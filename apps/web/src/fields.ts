// The page's fields and URL parameters -> a GenerateRequest, or the problems to show next to each field.
// Every sampling rule is the pipeline's (parseMethod, checkRequest with the loaded model's facts and
// INTERACTIVE_LIMITS): this file only turns text into numbers and pipeline fields into page fields.
// No DOM: Node tests run it.
import {
  BASELINE_SOLVERS,
  COMPILE_LEVELS,
  type CompileLevel,
  checkRequest,
  INTERACTIVE_LIMITS,
  MethodError,
  type MethodInput,
  type Problem,
  parseMethod,
  ruleInput,
} from "@flowturbo/pipeline";
import { type LogLevel, ORT_LOG_SEVERITY } from "@flowturbo/core";
import { labelsFor } from "./labels";
import { modelUrlProblem } from "./modelFiles";
import type { BackendChoice, GenerateRequest, ModelInfo } from "./protocol";

/** The menus: the Method menu is "plan" and the pipeline's baselines, the Compile menu "auto" and its levels. */
export const METHOD_CHOICES: readonly string[] = ["plan", ...BASELINE_SOLVERS];
export const COMPILE_CHOICES: readonly string[] = ["auto", ...COMPILE_LEVELS];
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "wasm"];

/** The fields a message can be shown next to ("page": no field, e.g. an unknown URL parameter). */
export type Field =
  | "class"
  | "method"
  | "plan"
  | "steps"
  | "cfg"
  | "seed"
  | "count"
  | "batch"
  | "compile"
  | "preview"
  | "backend"
  | "heads"
  | "base-url"
  | "refiner-url"
  | "vae-url"
  | "vae-config-url"
  | "page";

export interface FieldProblem {
  field: Field;
  message: string;
}

/** The sampling fields as the page holds them (text, as typed). */
export interface FormValues {
  /** "random" or a class index. */
  cls: string;
  /** "plan" or a solver name (METHOD_CHOICES). */
  method: string;
  plan: string;
  steps: string;
  cfg: string;
  seed: string;
  count: string;
  /** Empty: the pipeline's default. */
  batch: string;
  /** "auto" or a compile level. */
  compile: string;
  preview: boolean;
}

/** A number field: empty is NaN (never 0), so the rules say it is missing. */
export function numberOf(text: string): number {
  return text.trim() === "" ? Number.NaN : Number(text);
}

const oneOf = (values: readonly string[]) =>
  values.length > 1 ? `${values.slice(0, -1).join(", ")} or ${values.at(-1)}` : values.join("");

/** The method fields as the pipeline reads them (dopri5 takes no steps; an empty Steps field is "not given"). */
export function methodInput(v: Pick<FormValues, "method" | "plan" | "steps">): MethodInput {
  if (v.method === "plan") return { plan: v.plan };
  if (v.method === "dopri5") return { solver: v.method };
  return { solver: v.method, steps: v.steps.trim() === "" ? undefined : numberOf(v.steps) };
}

/** The page field of a MethodError's field. */
function methodField(e: MethodError): Field {
  return e.field === "plan" ? "plan" : e.field === "steps" ? "steps" : "method";
}

/** The page field of a pipeline Problem. */
export function problemField(p: Problem): Field {
  switch (p.field) {
    case "samples":
      return "count";
    case "labels":
      return "class";
    case "refiner":
      return "plan";
    case "vae":
    case "noise": // the page gives no noise
      return "page";
    default:
      return p.field;
  }
}

/**
 * The request the fields describe for `model`, or the problems (one per field at most). Nothing here
 * is a rule of the page: the method goes through parseMethod, the rest through checkRequest.
 */
export function readForm(
  v: FormValues,
  model: Pick<ModelInfo, "numClasses" | "hasRefiner" | "classNames">,
): { request?: GenerateRequest; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  let method: MethodInput | undefined;
  if (!METHOD_CHOICES.includes(v.method))
    problems.push({ field: "method", message: `method must be ${oneOf(METHOD_CHOICES)}, got '${v.method}'` });
  else {
    method = methodInput(v);
    try {
      parseMethod(method);
    } catch (e) {
      if (!(e instanceof MethodError)) throw e;
      problems.push({ field: methodField(e), message: e.message });
      method = undefined;
    }
  }
  let compile: CompileLevel | undefined;
  if (!COMPILE_CHOICES.includes(v.compile))
    problems.push({
      field: "compile",
      message: `compile must be ${oneOf(COMPILE_CHOICES)}, got '${v.compile}'`,
    });
  else compile = v.compile === "auto" ? undefined : (v.compile as CompileLevel);
  const n = numberOf(v.count);
  const seed = numberOf(v.seed);
  const cfg = numberOf(v.cfg);
  const batch = v.batch.trim() === "" ? undefined : numberOf(v.batch);
  let classId: number | "random" | undefined = "random";
  if (v.cls !== "random") {
    classId = /^\s*\d+\s*$/.test(v.cls) ? Number(v.cls) : undefined;
    if (classId === undefined)
      problems.push({
        field: "class",
        message: `'${v.cls}' is not a class of this model: choose one of 0..${model.numClasses - 1}${model.classNames ? ` (${model.classNames.join(", ")})` : ""} or Random`,
      });
  }
  const count = Number.isInteger(n) && n >= 1 && n <= INTERACTIVE_LIMITS.samples ? n : 0;
  // at least one label, so a bad class is reported even while the image count is invalid
  const labels = labelsFor(
    classId ?? 0,
    Math.max(count, 1),
    Number.isSafeInteger(seed) && seed >= 0 ? seed : 0,
    model.numClasses,
  );
  const params = {
    method: parseMethod(method ?? { plan: "fast" }),
    labels,
    cfg,
    seed,
    batch,
    compile,
  };
  const rules = { ...ruleInput(params), samples: n };
  for (const p of checkRequest(rules, model, INTERACTIVE_LIMITS)) {
    // method-dependent rules only for a method that parsed (the placeholder's are not the user's)
    if (!method && (p.field === "compile" || p.field === "refiner")) continue;
    if (p.field === "labels" && classId === undefined) continue;
    problems.push({ field: problemField(p), message: p.message });
  }
  const once = problems.filter((p, i) => problems.findIndex((q) => q.field === p.field) === i);
  if (once.length || !method) return { problems: once };
  return {
    problems: [],
    // a batch larger than the run is the whole run
    request: { labels, method, cfg, seed, batch: batch && Math.min(batch, n), compile, preview: v.preview },
  };
}

/** `?class=` as a class index: a number, or a class name of the model (any case); else the text as given. */
export function resolveClass(text: string, model: Pick<ModelInfo, "classNames">): string {
  const t = text.trim();
  if (t === "random" || /^\d+$/.test(t)) return t;
  const i = model.classNames?.findIndex((name) => name.toLowerCase() === t.toLowerCase()) ?? -1;
  return i >= 0 ? String(i) : t;
}

/** The settings of a query string (?backend=wasm&plan=H2P4R3...), and the problems of those that cannot be used. */
export interface QuerySettings {
  values: Partial<FormValues>;
  backend?: string;
  heads?: string;
  /** ?base= and friends: a model by URL. */
  urls?: { base: string; refiner?: string; vae?: string; vaeConfig?: string };
  /** ?class=, resolved once the model's classes are known (resolveClass). */
  cls?: string;
  /** ?ortLog=: ONNX Runtime's log level in the browser console (verbose: each session's node placements). */
  ortLog?: LogLevel;
  problems: FieldProblem[];
}

const LOG_LEVELS = Object.keys(ORT_LOG_SEVERITY) as LogLevel[];

const QUERY_FIELDS: Readonly<Record<string, keyof FormValues>> = {
  method: "method",
  plan: "plan",
  steps: "steps",
  cfg: "cfg",
  seed: "seed",
  n: "count",
  batch: "batch",
  compile: "compile",
};
const QUERY_KEYS = [
  "backend",
  "base",
  "refiner",
  "vae",
  "vaeConfig",
  "heads",
  "class",
  "preview",
  "ortLog",
  ...Object.keys(QUERY_FIELDS),
];

/**
 * Reads a query string. Values are kept as given (a bad one is shown in its field with the message, and
 * no run starts until it is fixed); only what no field can show is reported here: unknown keys, a bad
 * backend or preview flag, URLs that cannot be downloaded.
 */
export function parseQuery(search: string): QuerySettings {
  const q = new URLSearchParams(search);
  const out: QuerySettings = { values: {}, problems: [] };
  for (const [key, value] of q) {
    if (key in QUERY_FIELDS) out.values[QUERY_FIELDS[key]] = value as never;
    else if (!QUERY_KEYS.includes(key))
      out.problems.push({
        field: "page",
        message: `?${key}= is not a setting of this page (settings: ${QUERY_KEYS.join(", ")})`,
      });
  }
  const backend = q.get("backend");
  if (backend !== null) {
    out.backend = backend;
    const problem = backendProblem(backend);
    if (problem) out.problems.push({ field: "backend", message: problem });
  }
  const preview = q.get("preview");
  if (preview !== null) {
    if (["0", "1", "true", "false"].includes(preview))
      out.values.preview = preview === "1" || preview === "true";
    else out.problems.push({ field: "preview", message: `?preview= must be 1 or 0, got '${preview}'` });
  }
  const ortLog = q.get("ortLog");
  if (ortLog !== null) {
    if ((LOG_LEVELS as readonly string[]).includes(ortLog)) out.ortLog = ortLog as LogLevel;
    else
      out.problems.push({
        field: "page",
        message: `?ortLog= must be ${LOG_LEVELS.join(", ")}, got '${ortLog}'`,
      });
  }
  const heads = q.get("heads");
  if (heads !== null) out.heads = heads;
  const cls = q.get("class");
  if (cls !== null) out.cls = cls;
  const base = q.get("base");
  if (base !== null) {
    const urls = {
      base,
      refiner: q.get("refiner") ?? undefined,
      vae: q.get("vae") ?? undefined,
      vaeConfig: q.get("vaeConfig") ?? undefined,
    };
    out.urls = urls;
    out.problems.push(...urlProblems(urls));
  }
  return out;
}

/** Why a backend choice is not one of the menu's, or undefined. */
export function backendProblem(value: string): string | undefined {
  return (BACKEND_CHOICES as readonly string[]).includes(value)
    ? undefined
    : `backend must be ${oneOf(BACKEND_CHOICES)}, got '${value}'`;
}

/** The model URL fields that cannot be downloaded (the base URL is required). */
export function urlProblems(urls: {
  base: string;
  refiner?: string;
  vae?: string;
  vaeConfig?: string;
}): FieldProblem[] {
  const out: FieldProblem[] = [];
  const check = (field: Field, text: string | undefined, required: boolean) => {
    if (!required && !text?.trim()) return;
    const problem = modelUrlProblem(text ?? "");
    if (problem)
      out.push({ field, message: problem === "enter a URL" ? "enter the base model's URL" : problem });
  };
  check("base-url", urls.base, true);
  check("refiner-url", urls.refiner, false);
  check("vae-url", urls.vae, false);
  check("vae-config-url", urls.vaeConfig, false);
  return out;
}

/** Attention heads (only for checkpoints that do not record them): empty or a whole number >= 1. */
export function headsOf(text: string): { heads?: number; problem?: string } {
  if (text.trim() === "") return {};
  const v = Number(text);
  return Number.isInteger(v) && v >= 1
    ? { heads: v }
    : { problem: `attention heads must be a whole number >= 1, got '${text}'` };
}
