// The page: controls -> messages to the generation worker; progress, previews, results and errors back.
// Settings can also come from the query string (?backend=wasm&base=URL&refiner=URL&plan=H2P4R3&seed=3...).
// Fields are checked by the pipeline's own rules (fields.ts) before anything is sent: a problem is shown
// next to its field and no run starts.
import {
  defaultCompileLevel,
  INTERACTIVE_LIMITS,
  MAX_CFG,
  MAX_STEPS,
  PLAN_PRESETS,
  parseMethod,
} from "@flowturbo/pipeline";
import type { LogLevel } from "@flowturbo/core";
import embeddedBase from "../../../models/emoji/base.safetensors?url";
import embeddedRefiner from "../../../models/emoji/refiner.safetensors?url";
import { DEFAULTS } from "./defaults";
import {
  backendProblem,
  type Field,
  type FieldProblem,
  type FormValues,
  headsOf,
  METHOD_CHOICES,
  parseQuery,
  readForm,
  resolveClass,
  urlProblems,
} from "./fields";
import { clearModelCache, modelCacheUsage } from "./modelFiles";
import type {
  BackendChoice,
  FromWorker,
  GenerateRequest,
  ModelChoice,
  ModelInfo,
  ToWorker,
  WasmThreads,
} from "./protocol";
import { resultsView, saveBlob } from "./results";
import {
  compileEstimate,
  downloadText,
  plural,
  progressText,
  SMALL_MODEL_PARAMETERS,
  seconds,
} from "./status";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  form: $<HTMLFormElement>("controls"),
  settings: $<HTMLDetailsElement>("settings"),
  modelKind: $<HTMLSelectElement>("model-kind"),
  modelUrl: $<HTMLDivElement>("model-url"),
  modelFile: $<HTMLDivElement>("model-file"),
  baseUrl: $<HTMLInputElement>("base-url"),
  refinerUrl: $<HTMLInputElement>("refiner-url"),
  vaeUrl: $<HTMLInputElement>("vae-url"),
  vaeConfigUrl: $<HTMLInputElement>("vae-config-url"),
  vaeConfigFile: $<HTMLInputElement>("vae-config-file"),
  heads: $<HTMLInputElement>("heads"),
  baseFile: $<HTMLInputElement>("base-file"),
  refinerFile: $<HTMLInputElement>("refiner-file"),
  vaeFile: $<HTMLInputElement>("vae-file"),
  backend: $<HTMLSelectElement>("backend"),
  load: $<HTMLButtonElement>("load"),
  cacheSize: $<HTMLSpanElement>("cache-size"),
  clearCache: $<HTMLButtonElement>("clear-cache"),
  cls: $<HTMLSelectElement>("class"),
  method: $<HTMLSelectElement>("method"),
  plan: $<HTMLInputElement>("plan"),
  plans: $<HTMLDataListElement>("plans"),
  planField: $<HTMLDivElement>("plan-field"),
  steps: $<HTMLInputElement>("steps"),
  stepsField: $<HTMLDivElement>("steps-field"),
  cfg: $<HTMLInputElement>("cfg"),
  seed: $<HTMLInputElement>("seed"),
  count: $<HTMLInputElement>("count"),
  batch: $<HTMLInputElement>("batch"),
  compile: $<HTMLSelectElement>("compile"),
  preview: $<HTMLInputElement>("preview"),
  generate: $<HTMLButtonElement>("generate"),
  cancel: $<HTMLButtonElement>("cancel"),
  download: $<HTMLButtonElement>("download"),
  status: $<HTMLParagraphElement>("status-line"),
  error: $<HTMLParagraphElement>("error"),
  notice: $<HTMLParagraphElement>("notice"),
  backendLine: $<HTMLParagraphElement>("backend-line"),
  progress: $<HTMLProgressElement>("progress"),
  timings: $<HTMLTableElement>("timings"),
};
const results = resultsView({
  results: $("results"),
  viewer: $<HTMLDialogElement>("viewer"),
  viewerCanvas: $<HTMLCanvasElement>("viewer-canvas"),
  viewerCaption: $("viewer-caption"),
  viewerSave: $<HTMLButtonElement>("viewer-save"),
  viewerClose: $<HTMLButtonElement>("viewer-close"),
});

type Result = Extract<FromWorker, { type: "result" }>;
type Progress = Extract<FromWorker, { type: "progress" }>;

/** One generation as the page saw it (tests read it: window.flowturboApp.run). */
interface RunLog {
  id: number;
  /** Progress events: phase, batch, step, when the worker posted them. */
  events: { phase: string; batch: number; step: number; at: number }[];
  /** Every value the progress bar showed. */
  progress: number[];
  /** Every status line shown. */
  status: string[];
  /** Previews drawn. */
  previews: number;
  /** When Cancel was clicked (same clock as the events' `at`). */
  cancelAt?: number;
  /** When the cancel reached the worker (the worker's clock, as the events' `at`). */
  cancelSeenAt?: number;
  end?: "result" | "cancelled" | "error";
}

/** What tests and scripts can read (window.flowturboApp). */
interface AppState {
  ready: boolean;
  busy: boolean;
  /** What the worker is doing for the page. */
  activity: "idle" | "loading" | "generating";
  model?: ModelInfo;
  providers?: string[];
  webgpu?: { available: boolean; reason?: string; adapter?: string };
  threads?: WasmThreads;
  /** The backend the model in use was loaded for. */
  loadedBackend?: BackendChoice;
  last?: Result;
  run?: RunLog;
  error?: string;
  /** The messages shown next to fields, by field. */
  problems: Partial<Record<Field, string>>;
  generations: number;
  loads: number;
  /** Compiles ahead that finished (the worker's "prepared" messages), and the last one. */
  prepared: number;
  lastPrepared?: { ms: number; provider: string; compile: string };
  /** The last thing a Cancel stopped. */
  cancelled?: "load" | "generate";
  /** The guidance scale was set by the user (field or ?cfg=): a loaded model's recommendation does not replace it. */
  cfgChosen?: boolean;
}
const state: AppState = {
  ready: false,
  busy: false,
  activity: "idle",
  generations: 0,
  loads: 0,
  prepared: 0,
  problems: {},
};
(globalThis as { flowturboApp?: AppState }).flowturboApp = state;

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const send = (m: ToWorker) => worker.postMessage(m);
let nextId = 1;
/** The load or generation the page waits for. */
let currentId = 0;
let started = 0;
let lastProgress = -1;
/** Problems of URL parameters that no field re-checks: shown until the field is changed. */
const sticky = new Map<Field, string>();
/** ?class=, applied when the model's classes are known. */
let pendingClass: string | undefined;
/** ?ortLog=: ONNX Runtime's log level, sent with the loads. */
let ortLog: LogLevel | undefined;

const now = () => performance.timeOrigin + performance.now();

/** URL parameters the page does not know: shown until the first Generate (a model load keeps them). */
let urlNotice: string | undefined;

function showError(message: string | undefined): void {
  state.error = message;
  const text = message ?? urlNotice;
  ui.error.hidden = !text;
  ui.error.textContent = text ? `Error: ${text}` : "";
}

function setStatus(text: string): void {
  ui.status.textContent = text;
  state.run?.status.push(text);
}

function setProgress(value: number | undefined): void {
  ui.progress.hidden = value === undefined;
  if (value === undefined || value === lastProgress) return;
  lastProgress = value;
  ui.progress.value = value;
  state.run?.progress.push(value);
}

function setActivity(activity: AppState["activity"]): void {
  state.activity = activity;
  state.busy = activity !== "idle";
  ui.generate.disabled = state.busy || !state.ready;
  ui.load.disabled = state.busy;
  ui.backend.disabled = state.busy;
  ui.clearCache.disabled = state.busy;
  ui.cancel.disabled = !state.busy;
  if (!state.busy) setProgress(undefined);
}

// ---- inline messages next to fields ----

const FIELD_INPUTS: Record<Exclude<Field, "page">, string> = {
  class: "class",
  method: "method",
  plan: "plan",
  steps: "steps",
  cfg: "cfg",
  seed: "seed",
  count: "count",
  batch: "batch",
  compile: "compile",
  preview: "preview",
  backend: "backend",
  heads: "heads",
  "base-url": "base-url",
  "refiner-url": "refiner-url",
  "vae-url": "vae-url",
  "vae-config-url": "vae-config-url",
};

function messageElement(input: HTMLElement): HTMLElement {
  const id = `${input.id}-error`;
  let el = document.getElementById(id);
  if (!el) {
    el = document.createElement("p");
    el.id = id;
    el.className = "field-error";
    const anchor = input.closest(".field") ?? input.closest("label.inline") ?? input;
    if (anchor === input || anchor.tagName === "LABEL") anchor.after(el);
    else anchor.append(el);
  }
  return el;
}

/** Shows each problem next to its field (one per field) and clears the others. */
function showProblems(problems: readonly FieldProblem[]): void {
  state.problems = {};
  for (const p of problems) state.problems[p.field] ??= p.message;
  for (const [field, id] of Object.entries(FIELD_INPUTS)) {
    const input = document.getElementById(id)!;
    const message = state.problems[field as Field];
    const el = message || document.getElementById(`${id}-error`) ? messageElement(input) : undefined;
    if (el) {
      el.textContent = message ?? "";
      el.hidden = !message;
    }
    if (message) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `${id}-error`);
      if (ui.settings.contains(input)) ui.settings.open = true;
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }
}

function focusFirstProblem(): void {
  const first = Object.entries(FIELD_INPUTS).find(([field]) => state.problems[field as Field]);
  if (first) document.getElementById(first[1])?.focus();
}

/** A select shows a value that is not one of its options (from the URL) as "value (not valid)". */
function selectValue(select: HTMLSelectElement, value: string): void {
  if (![...select.options].some((o) => o.value === value)) {
    const option = new Option(`${value} (not valid)`, value);
    option.className = "invalid-option";
    select.append(option);
  }
  select.value = value;
}

function dropInvalidOptions(select: HTMLSelectElement): void {
  for (const o of [...select.options]) if (o.className === "invalid-option" && !o.selected) o.remove();
}

// ---- the fields ----

function formValues(): FormValues {
  return {
    cls: ui.cls.value,
    method: ui.method.value,
    plan: ui.plan.value,
    steps: ui.steps.value,
    cfg: ui.cfg.value,
    seed: ui.seed.value,
    count: ui.count.value,
    batch: ui.batch.value,
    compile: ui.compile.value,
    preview: ui.preview.checked,
  };
}

/** The request of the fields, or undefined with every problem shown next to its field. */
function validate(): GenerateRequest | undefined {
  if (!state.model) return undefined;
  const { request, problems } = readForm(formValues(), state.model);
  const all = [...problems, ...[...sticky].map(([field, message]) => ({ field, message }))];
  showProblems(all);
  return all.length ? undefined : request;
}

function className(c: number): string {
  return state.model?.classNames?.[c] ?? `class ${c}`;
}

function fillClasses(model: ModelInfo): void {
  const previous = pendingClass === undefined ? ui.cls.value : resolveClass(pendingClass, model);
  pendingClass = undefined;
  ui.cls.replaceChildren(new Option("Random (per image, from the seed)", "random"));
  for (let c = 0; c < model.numClasses; c++)
    ui.cls.append(new Option(model.classNames?.[c] ?? String(c), String(c)));
  selectValue(ui.cls, previous);
}

const METHOD_LABELS: Record<string, string> = {
  plan: "FlowTurbo plan",
  heun: "Heun (baseline)",
  euler: "Euler",
  midpoint: "Midpoint",
  rk4: "RK4",
  rk4_38: "RK4 (3/8 rule)",
  dopri5: "dopri5 (adaptive)",
  sde: "SDE (SiT's stochastic sampler)",
};

/** Menus and limits from the pipeline, then the defaults. */
function initFields(): void {
  ui.method.replaceChildren(...METHOD_CHOICES.map((m) => new Option(METHOD_LABELS[m] ?? m, m)));
  ui.plans.replaceChildren(
    ...[PLAN_PRESETS.fast, PLAN_PRESETS.quality, "H2P4R3"].map((p) => new Option(undefined, p)),
  );
  ui.plan.placeholder = PLAN_PRESETS.fast;
  ui.cfg.max = String(MAX_CFG);
  ui.steps.max = String(MAX_STEPS);
  ui.count.max = String(INTERACTIVE_LIMITS.samples);
  ui.batch.max = String(INTERACTIVE_LIMITS.batch);
  ui.method.value = DEFAULTS.method;
  ui.plan.value = DEFAULTS.plan;
  ui.steps.value = String(DEFAULTS.steps);
  ui.cfg.value = "1";
  ui.seed.value = String(DEFAULTS.seed);
  ui.count.value = String(DEFAULTS.count);
  ui.batch.value = DEFAULTS.batch;
  ui.compile.value = DEFAULTS.compile;
  ui.preview.checked = DEFAULTS.preview;
  ui.backend.value = DEFAULTS.backend;
}

function syncMethod(): void {
  const plan = ui.method.value === "plan";
  ui.planField.hidden = !plan;
  ui.stepsField.hidden = plan || ui.method.value === "dopri5";
  ui.steps.placeholder = ui.method.value === "sde" ? "250" : "";
}

function syncModelKind(): void {
  ui.modelUrl.hidden = ui.modelKind.value !== "url";
  ui.modelFile.hidden = ui.modelKind.value !== "file";
}

// ---- loading ----

/** The model the Model fields describe, or undefined with the problems shown. */
function modelChoice(): ModelChoice | undefined {
  const problems: FieldProblem[] = [];
  const backend = backendProblem(ui.backend.value);
  if (backend) problems.push({ field: "backend", message: backend });
  const { heads, problem } = headsOf(ui.heads.value);
  if (problem) problems.push({ field: "heads", message: problem });
  const kind = ui.modelKind.value;
  let model: ModelChoice | undefined;
  if (kind === "url") {
    const urls = {
      base: ui.baseUrl.value,
      refiner: ui.refinerUrl.value,
      vae: ui.vaeUrl.value,
      vaeConfig: ui.vaeConfigUrl.value,
    };
    problems.push(...urlProblems(urls));
    const url = (text: string) => (text.trim() ? { url: text.trim() } : undefined);
    model = {
      base: { url: urls.base.trim() },
      refiner: url(urls.refiner),
      vae: url(urls.vae),
      vaeConfig: url(urls.vaeConfig),
      heads,
    };
  } else if (kind === "file") {
    const file = (input: HTMLInputElement) => {
      const f = input.files?.[0];
      return f ? { file: f } : undefined;
    };
    const base = file(ui.baseFile);
    if (!base) showError("choose a base model file");
    else
      model = {
        base,
        refiner: file(ui.refinerFile),
        vae: file(ui.vaeFile),
        vaeConfig: file(ui.vaeConfigFile),
        heads,
      };
  } else {
    model = {
      base: { url: embeddedBase, name: "emoji base.safetensors" },
      refiner: { url: embeddedRefiner, name: "emoji refiner.safetensors" },
    };
  }
  for (const field of ["backend", "heads", "base-url", "refiner-url", "vae-url", "vae-config-url"] as const)
    sticky.delete(field);
  for (const p of problems) sticky.set(p.field, p.message);
  if (state.model) validate();
  else showProblems([...sticky].map(([field, message]) => ({ field, message })));
  return problems.length ? undefined : model;
}

function loadModel(): void {
  if (state.busy) return;
  const model = modelChoice();
  if (!model) {
    setStatus(
      state.ready ? "Not loaded: fix the marked settings." : "Fix the marked settings to load a model.",
    );
    return;
  }
  showError(undefined);
  currentId = nextId++;
  setActivity("loading");
  setStatus(
    state.model
      ? "Loading the model (the current one stays until the new one is ready)..."
      : "Loading the model...",
  );
  send({ type: "load", id: currentId, model, backend: ui.backend.value as BackendChoice, ortLog });
}

function backendText(m: Extract<FromWorker, { type: "loaded" }>): string {
  const gpu = m.webgpu.available
    ? `WebGPU available (${m.webgpu.adapter})`
    : `WebGPU not used: ${m.webgpu.reason}`;
  const threads = m.threads.isolated
    ? `WASM: ${plural(m.threads.count, "thread")}`
    : "WASM: 1 thread (this page is not cross-origin isolated, so no SharedArrayBuffer for threads)";
  return `${gpu}. Providers: ${m.providers.join(" -> ")}. ${threads}.`;
}

// ---- compile time, remembered per model, provider and level ----

const COMPILE_KEY = "flowturbo.compileMs";

function compileTimes(): Record<string, number> {
  try {
    return JSON.parse(localStorage.getItem(COMPILE_KEY) ?? "{}") as Record<string, number>;
  } catch {
    return {};
  }
}

/** The remembered time's key: a model of another size compiles in another time. */
const compileKey = (provider: string | undefined, level: string) =>
  `${state.model?.file}:${state.model?.parameters}/${provider}/${level}`;

function rememberCompile(provider: string, level: string, ms: number): void {
  try {
    localStorage.setItem(
      COMPILE_KEY,
      JSON.stringify({ ...compileTimes(), [compileKey(provider, level)]: ms }),
    );
  } catch {
    // storage off: no estimate next time
  }
}

/** The compile level the fields would run at ("auto": the pipeline's default for the method). */
function plannedLevel(): string {
  if (ui.compile.value !== "auto") return ui.compile.value;
  try {
    return defaultCompileLevel(parseMethod({ plan: ui.plan.value }));
  } catch {
    return "block";
  }
}

function estimate(level = plannedLevel()): string {
  const last = compileTimes()[compileKey(state.providers?.[0], level)];
  return compileEstimate(last, state.model?.parameters ?? Number.POSITIVE_INFINITY);
}

/**
 * A small model: the worker compiles the sessions of the settings shown while the page waits for the
 * first click (0.4-1.4 s for the embedded model on WASM), so Generate with them starts sampling at once;
 * a Generate with other settings drops that work. Large models compile on demand (memory, and a long
 * compile the user may not want).
 */
function prepareAhead(model: ModelInfo, request: GenerateRequest): void {
  if (model.parameters < SMALL_MODEL_PARAMETERS) send({ type: "prepare", request });
}

function showFirstRunNotice(): void {
  ui.notice.textContent = `The first run with new settings compiles the model for them (${estimate()}); runs with the same settings start at once.`;
}

// ---- generating ----

function generate(): void {
  if (!state.ready || state.busy) return;
  const req = validate();
  if (!req) {
    setStatus("Not started: fix the marked fields.");
    focusFirstProblem();
    return;
  }
  urlNotice = undefined;
  showError(undefined);
  currentId = nextId++;
  started = performance.now();
  lastProgress = -1;
  state.run = { id: currentId, events: [], progress: [], status: [], previews: 0 };
  setActivity("generating");
  setProgress(0);
  results.start(req.labels.map(className));
  setStatus(`Starting ${plural(req.labels.length, "image")}...`);
  send({ type: "generate", id: currentId, request: req });
}

function onProgress(m: Progress): void {
  const run = state.run;
  if (!run || m.id !== run.id) return;
  run.events.push({ phase: m.phase, batch: m.batch, step: m.step, at: m.at });
  if (m.fraction > lastProgress) setProgress(m.fraction);
  if (run.cancelAt === undefined)
    setStatus(
      progressText(m, {
        provider: state.providers?.[0],
        preview: ui.preview.checked,
        estimate: estimate(m.compile),
      }),
    );
  if (m.preview) {
    results.preview(m.done, m.preview.data, m.preview.shape);
    run.previews++;
  }
}

function showTimings(r: Result, wall: number): void {
  const n = r.labels.length;
  const rows: [string, string][] = [
    [
      "sessions",
      r.timings.setup >= 1 ? `${seconds(r.timings.setup)} (compiled for these settings)` : "reused",
    ],
    ["base model", `${r.timings.base.toFixed(0)} ms (${r.nfe.base} calls)`],
    ["refiner", `${r.timings.refiner.toFixed(0)} ms (${r.nfe.refiner} calls)`],
    ["decode", `${r.timings.decode.toFixed(0)} ms`],
    // WebGPU runs return before the GPU finishes: the wait shows up when states are downloaded
    [
      r.provider === "webgpu" ? "GPU wait, transfers" : "transfers",
      `${Math.max(0, r.timings.total - r.timings.setup - r.timings.base - r.timings.refiner - r.timings.decode).toFixed(0)} ms`,
    ],
    ["total", `${seconds(wall)}, ${((1000 * n) / wall).toFixed(2)} images/s`],
  ];
  if (r.transfers) {
    const t = r.transfers;
    rows.push([
      "state copies",
      `${t.stateUploads} up, ${t.downloads} down, ${t.stepDownloads} for previews, ${t.hostOutputs} to JS between blocks (${t.locations.join(", ")})`,
    ]);
  }
  ui.timings.tBodies[0].replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = k;
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(th, td);
      return tr;
    }),
  );
  ui.timings.hidden = false;
}

function onResult(m: Result): void {
  if (m.id !== state.run?.id) return;
  const wall = performance.now() - started;
  state.last = m;
  state.run.end = "result";
  state.generations++;
  results.finish(m.images, m.shape, `flowturbo-seed${m.seed}-${m.method.replace(/[^\w]+/g, "-")}`);
  showTimings(m, wall);
  if (m.timings.setup >= 1) rememberCompile(m.provider, m.compile, m.timings.setup);
  showFirstRunNotice();
  const fallback = m.fallbackReason ? `: WebGPU not used: ${m.fallbackReason}` : "";
  ui.backendLine.textContent = `Ran on ${m.provider === "webgpu" ? "WebGPU" : "WASM"} (compile ${m.compile}, ${m.method}, seed ${m.seed})${fallback}.`;
  setProgress(1);
  setStatus(
    `Generated ${plural(m.labels.length, "image")} in ${seconds(wall)}. Click an image to enlarge or save it.`,
  );
  ui.download.disabled = false;
  setActivity("idle");
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "download":
      if (m.id !== currentId) break;
      setStatus(downloadText(m));
      setProgress(m.total ? m.loaded / m.total : undefined);
      break;
    case "loaded": {
      state.model = m.model;
      state.providers = m.providers;
      state.webgpu = m.webgpu;
      state.threads = m.threads;
      state.loadedBackend = m.backend;
      state.ready = true;
      state.loads++;
      fillClasses(m.model);
      // the model's recommended guidance scale, unless the user chose one (field or ?cfg=)
      if (!state.cfgChosen) ui.cfg.value = String(m.model.recommendedCfg ?? 1);
      ui.backendLine.textContent = backendText(m);
      setActivity("idle");
      const request = validate();
      const problems = request === undefined;
      if (request) prepareAhead(m.model, request);
      setStatus(
        `Ready: ${m.model.file} (${(m.model.parameters / 1e6).toFixed(2)} M parameters, ${m.model.numClasses} classes${m.model.hasRefiner ? ", refiner" : ""}) on ${m.providers[0] === "webgpu" ? "WebGPU" : "WASM"}.${problems ? " Fix the marked fields to generate." : ""}`,
      );
      showFirstRunNotice();
      void showCacheSize();
      break;
    }
    case "prepared":
      state.prepared++;
      state.lastPrepared = { ms: m.ms, provider: m.provider, compile: m.compile };
      rememberCompile(m.provider, m.compile, m.ms);
      break;
    case "progress":
      onProgress(m);
      break;
    case "result":
      onResult(m);
      break;
    case "cancelled":
      if (m.id !== currentId) break;
      state.cancelled = m.stage;
      if (state.run && m.stage === "generate") {
        state.run.end = "cancelled";
        state.run.cancelSeenAt = m.cancelSeenAt;
      }
      if (m.stage === "load") {
        if (state.loadedBackend) ui.backend.value = state.loadedBackend;
        setStatus(
          state.model
            ? `Loading cancelled; still using ${state.model.file}.`
            : "Loading cancelled: no model loaded.",
        );
      } else setStatus("Cancelled.");
      setActivity("idle");
      break;
    case "error":
      if (m.id !== currentId) break;
      showError(m.message);
      if (state.run && m.stage === "generate") state.run.end = "error";
      if (m.stage === "load") {
        state.ready = m.kept !== undefined && state.model !== undefined;
        if (state.loadedBackend) ui.backend.value = state.loadedBackend;
        setStatus(
          state.ready
            ? `The model could not be loaded; still using ${state.model!.file} on ${state.loadedBackend}.`
            : "The model could not be loaded.",
        );
      } else setStatus("Generation failed.");
      setActivity("idle");
      break;
  }
};

worker.onerror = (e) => {
  showError(`the generation worker failed: ${e.message || "could not start (see the browser console)"}`);
  setStatus("Not ready.");
  state.ready = false;
  setActivity("idle");
};

function cancel(): void {
  if (!state.busy) return;
  if (state.run && state.activity === "generating") state.run.cancelAt = now();
  setStatus(
    state.activity === "loading"
      ? "Cancelling the download..."
      : "Cancelling (stops after the current step)...",
  );
  send({ type: "cancel", id: currentId });
}

// ---- cache ----

async function showCacheSize(): Promise<void> {
  const usage = await modelCacheUsage();
  ui.cacheSize.textContent = !usage
    ? "Model cache: not available here (needs https or localhost)"
    : usage.files === 0
      ? "Model cache: empty"
      : `Model cache: ${plural(usage.files, "file")}, ${(usage.bytes / 1e6).toFixed(1)} MB`;
  ui.clearCache.hidden = !usage?.files;
}

async function clearCache(): Promise<void> {
  const usage = await modelCacheUsage();
  const removed = await clearModelCache();
  setStatus(
    `Removed ${plural(removed, "cached model file")} (${((usage?.bytes ?? 0) / 1e6).toFixed(1)} MB); they are downloaded again when needed.`,
  );
  await showCacheSize();
}

// ---- URL parameters ----

function applyQuery(): void {
  const q = parseQuery(location.search);
  const set = (key: keyof FormValues, input: HTMLInputElement) => {
    const v = q.values[key];
    if (typeof v === "string") input.value = v;
  };
  if (q.values.method !== undefined) selectValue(ui.method, q.values.method);
  if (q.values.compile !== undefined) selectValue(ui.compile, q.values.compile);
  set("plan", ui.plan);
  set("steps", ui.steps);
  set("cfg", ui.cfg);
  set("seed", ui.seed);
  set("count", ui.count);
  set("batch", ui.batch);
  if (q.values.cfg !== undefined) state.cfgChosen = true;
  if (q.values.preview !== undefined) ui.preview.checked = q.values.preview;
  if (q.backend !== undefined) selectValue(ui.backend, q.backend);
  if (q.heads !== undefined) ui.heads.value = q.heads;
  if (q.urls) {
    ui.modelKind.value = "url";
    ui.baseUrl.value = q.urls.base;
    ui.refinerUrl.value = q.urls.refiner ?? "";
    ui.vaeUrl.value = q.urls.vae ?? "";
    ui.vaeConfigUrl.value = q.urls.vaeConfig ?? "";
  }
  if (q.cls !== undefined) pendingClass = q.cls;
  ortLog = q.ortLog;
  for (const p of q.problems) if (p.field === "preview") sticky.set(p.field, p.message);
  const page = q.problems.filter((p) => p.field === "page").map((p) => p.message);
  if (page.length) {
    urlNotice = page.join("; ");
    showError(undefined);
  }
}

// ---- events ----

ui.method.addEventListener("change", syncMethod);
ui.modelKind.addEventListener("change", syncModelKind);
ui.load.addEventListener("click", loadModel);
ui.backend.addEventListener("change", () => {
  dropInvalidOptions(ui.backend);
  // a backend is a property of the loaded sessions: changing it reloads the model on it
  loadModel();
});
ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  generate();
});
ui.cancel.addEventListener("click", cancel);
ui.download.addEventListener("click", async () => {
  const name = state.last
    ? `flowturbo-seed${state.last.seed}-${state.last.method.replace(/[^\w]+/g, "-")}`
    : "flowturbo";
  saveBlob(await results.gridPng(), `${name}.png`);
});
ui.clearCache.addEventListener("click", () => void clearCache());
ui.cfg.addEventListener("input", () => {
  state.cfgChosen = true;
});
for (const input of [
  ui.cls,
  ui.method,
  ui.plan,
  ui.steps,
  ui.cfg,
  ui.seed,
  ui.count,
  ui.batch,
  ui.compile,
  ui.preview,
]) {
  const check = () => {
    if (input instanceof HTMLSelectElement) dropInvalidOptions(input);
    if (input === ui.preview) sticky.delete("preview");
    validate();
  };
  input.addEventListener("change", check);
  // while a field shows a message, re-check as the user types
  input.addEventListener("input", () => {
    if (input.getAttribute("aria-invalid") === "true") check();
  });
}

initFields();
applyQuery();
syncMethod();
syncModelKind();
void showCacheSize();
loadModel();
