// The page: controls -> messages to the generation worker; progress, previews, results and errors back.
// Settings can also come from the query string (?backend=wasm&base=URL&refiner=URL&plan=H2P4R3&seed=3...).
import { type CompileLevel, type MethodInput, parseMethod } from "@flowturbo/pipeline";
import embeddedBase from "../../../models/emoji/base.safetensors?url";
import embeddedRefiner from "../../../models/emoji/refiner.safetensors?url";
import { gridRgba, previewImages, toRgba } from "./images";
import { type ClassChoice, labelsFor } from "./labels";
import type {
  BackendChoice,
  FromWorker,
  GenerateRequest,
  ModelChoice,
  ModelInfo,
  ToWorker,
} from "./protocol";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  form: $<HTMLFormElement>("controls"),
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
  cls: $<HTMLSelectElement>("class"),
  method: $<HTMLSelectElement>("method"),
  plan: $<HTMLInputElement>("plan"),
  planLabel: $<HTMLLabelElement>("plan-label"),
  steps: $<HTMLInputElement>("steps"),
  stepsLabel: $<HTMLLabelElement>("steps-label"),
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
  backendLine: $<HTMLParagraphElement>("backend-line"),
  progress: $<HTMLProgressElement>("progress"),
  canvas: $<HTMLCanvasElement>("canvas"),
  timings: $<HTMLTableElement>("timings"),
};

type Result = Extract<FromWorker, { type: "result" }>;

/** What tests and scripts can read (window.flowturboApp). */
interface AppState {
  ready: boolean;
  busy: boolean;
  model?: ModelInfo;
  providers?: string[];
  webgpu?: { available: boolean; reason?: string; adapter?: string };
  last?: Result;
  error?: string;
  generations: number;
  /** The guidance scale was set by the user (field or ?cfg=): a loaded model's recommendation does not replace it. */
  cfgChosen?: boolean;
}
const state: AppState = { ready: false, busy: false, generations: 0 };
(globalThis as { flowturboApp?: AppState }).flowturboApp = state;

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const send = (m: ToWorker) => worker.postMessage(m);
let nextId = 1;
let currentId = 0;
let started = 0;

function showError(message: string | undefined): void {
  state.error = message;
  ui.error.hidden = !message;
  ui.error.textContent = message ? `Error: ${message}` : "";
}

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function setBusy(busy: boolean): void {
  state.busy = busy;
  ui.generate.disabled = busy || !state.ready;
  ui.load.disabled = busy;
  ui.cancel.disabled = !busy;
  ui.progress.hidden = !busy;
}

function draw(images: Float32Array, shape: number[]): void {
  const [, , h, w] = shape;
  const grid = gridRgba(toRgba(images, shape), h, w);
  ui.canvas.width = grid.width;
  ui.canvas.height = grid.height;
  ui.canvas.getContext("2d")!.putImageData(new ImageData(grid.data, grid.width, grid.height), 0, 0);
}

function className(c: number): string {
  return state.model?.classNames?.[c] ?? `class ${c}`;
}

function fillClasses(model: ModelInfo): void {
  const previous = ui.cls.value;
  ui.cls.replaceChildren(new Option("Random (per image, from the seed)", "random"));
  for (let c = 0; c < model.numClasses; c++)
    ui.cls.append(new Option(model.classNames?.[c] ?? String(c), String(c)));
  if ([...ui.cls.options].some((o) => o.value === previous)) ui.cls.value = previous;
}

function modelChoice(): ModelChoice {
  const kind = ui.modelKind.value;
  const heads = ui.heads.value ? intField(ui.heads, "attention heads", 1) : undefined;
  const url = (input: HTMLInputElement) => (input.value ? { url: input.value } : undefined);
  const file = (input: HTMLInputElement) => {
    const f = input.files?.[0];
    return f ? { file: f } : undefined;
  };
  if (kind === "url") {
    const base = url(ui.baseUrl);
    if (!base) throw new Error("enter the base model URL");
    return { base, refiner: url(ui.refinerUrl), vae: url(ui.vaeUrl), vaeConfig: url(ui.vaeConfigUrl), heads };
  }
  if (kind === "file") {
    const base = file(ui.baseFile);
    if (!base) throw new Error("choose a base model file");
    return {
      base,
      refiner: file(ui.refinerFile),
      vae: file(ui.vaeFile),
      vaeConfig: file(ui.vaeConfigFile),
      heads,
    };
  }
  return {
    base: { url: embeddedBase, name: "emoji base.safetensors" },
    refiner: { url: embeddedRefiner, name: "emoji refiner.safetensors" },
  };
}

function loadModel(): void {
  let model: ModelChoice;
  try {
    model = modelChoice();
  } catch (e) {
    showError((e as Error).message);
    return;
  }
  showError(undefined);
  state.ready = false;
  setBusy(false);
  ui.generate.disabled = true;
  setStatus("Loading the model...");
  send({ type: "load", model, backend: ui.backend.value as BackendChoice });
}

/** The method fields as the pipeline reads them; parseMethod says what is wrong with them. */
function methodOf(): MethodInput {
  const m = ui.method.value;
  const input: MethodInput =
    m === "plan"
      ? { plan: ui.plan.value }
      : m === "dopri5"
        ? { solver: m }
        : { solver: m, steps: ui.steps.value.trim() === "" ? undefined : Number(ui.steps.value) };
  parseMethod(input); // throws MethodError with the reason
  return input;
}

function intField(input: HTMLInputElement, what: string, min: number): number {
  const v = Number(input.value);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`${what} must be a whole number >= ${min}, got '${input.value}'`);
  return v;
}

function request(): GenerateRequest {
  const model = state.model!;
  const method = methodOf();
  const n = intField(ui.count, "images", 1);
  const seed = intField(ui.seed, "seed", 0);
  const cfg = Number(ui.cfg.value);
  if (!Number.isFinite(cfg) || cfg < 0)
    throw new Error(`guidance scale must be a number >= 0, got '${ui.cfg.value}'`);
  const choice: ClassChoice = ui.cls.value === "random" ? "random" : Number(ui.cls.value);
  // "auto": the pipeline's default for the method (block graphs for plans and Heun)
  const compile = ui.compile.value === "auto" ? undefined : (ui.compile.value as CompileLevel);
  return {
    labels: labelsFor(choice, n, seed, model.numClasses),
    method,
    cfg,
    seed,
    batch: Math.min(intField(ui.batch, "batch", 1), n),
    compile,
    preview: ui.preview.checked,
  };
}

function generate(): void {
  if (!state.ready || state.busy) return;
  let req: GenerateRequest;
  try {
    req = request();
  } catch (e) {
    showError((e as Error).message);
    return;
  }
  showError(undefined);
  currentId = nextId++;
  started = performance.now();
  setBusy(true);
  ui.progress.value = 0;
  setStatus(`Generating ${req.labels.length} image${req.labels.length > 1 ? "s" : ""}...`);
  send({ type: "generate", id: currentId, request: req });
}

function showTimings(r: Result, wall: number): void {
  const n = r.labels.length;
  const rows: [string, string][] = [
    [
      "sessions",
      r.timings.setup >= 1 ? `${r.timings.setup.toFixed(0)} ms (compiled for these settings)` : "reused",
    ],
    ["base model", `${r.timings.base.toFixed(0)} ms (${r.nfe.base} calls)`],
    ["refiner", `${r.timings.refiner.toFixed(0)} ms (${r.nfe.refiner} calls)`],
    ["decode", `${r.timings.decode.toFixed(0)} ms`],
    // WebGPU runs return before the GPU finishes: the wait shows up when the final state is downloaded
    [
      "transfers, GPU wait",
      `${Math.max(0, r.timings.total - r.timings.setup - r.timings.base - r.timings.refiner - r.timings.decode).toFixed(0)} ms`,
    ],
    ["total", `${wall.toFixed(0)} ms, ${((1000 * n) / wall).toFixed(2)} images/s`],
  ];
  if (r.transfers) {
    const t = r.transfers;
    rows.push([
      "state copies",
      `${t.stateUploads} up, ${t.downloads} down, ${t.hostOutputs} to JS between blocks (${t.locations.join(", ")})`,
    ]);
  }
  const body = ui.timings.tBodies[0];
  body.replaceChildren(
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

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "download": {
      const mb = (b: number) => (b / 1e6).toFixed(1);
      setStatus(
        `${m.cached ? "Reading cached" : "Downloading"} ${m.file}: ${mb(m.loaded)}${m.total ? ` / ${mb(m.total)}` : ""} MB`,
      );
      ui.progress.hidden = !m.total;
      if (m.total) ui.progress.value = m.loaded / m.total;
      break;
    }
    case "loaded": {
      state.model = m.model;
      state.providers = m.providers;
      state.webgpu = m.webgpu;
      state.ready = true;
      fillClasses(m.model);
      // the model's recommended guidance scale, unless the user chose one (field or ?cfg=)
      if (!state.cfgChosen) ui.cfg.value = String(m.model.recommendedCfg ?? 1);
      ui.progress.hidden = true;
      const gpu = m.webgpu.available
        ? `WebGPU available (${m.webgpu.adapter})`
        : `WebGPU not used: ${m.webgpu.reason}`;
      ui.backendLine.textContent = `${gpu}. Providers: ${m.providers.join(" -> ")}.`;
      setStatus(
        `Loaded ${m.model.file}: ${(m.model.parameters / 1e6).toFixed(2)} M parameters, ${m.model.numClasses} classes${m.model.hasRefiner ? ", with refiner" : ""}. Ready.`,
      );
      setBusy(false);
      break;
    }
    case "progress": {
      if (m.id !== currentId) break;
      ui.progress.value = m.total ? (m.done + (m.stage === "decoding" ? 1 : 0.5)) / m.total : 0;
      setStatus(
        m.stage === "decoding"
          ? "Decoding..."
          : `Sampling ${m.done + 1}-${m.total}: step ${m.step}, t = ${m.t.toFixed(3)}, NFE ${m.nfe.base}${m.nfe.refiner ? ` + ${m.nfe.refiner} R` : ""}`,
      );
      if (m.preview)
        draw(previewImages(m.preview.data, m.preview.shape), [
          m.preview.shape[0],
          3,
          m.preview.shape[2],
          m.preview.shape[3],
        ]);
      break;
    }
    case "result": {
      if (m.id !== currentId) break;
      const wall = performance.now() - started;
      state.last = m;
      state.generations++;
      draw(m.images, m.shape);
      ui.canvas.setAttribute("aria-label", `Generated images: ${m.labels.map(className).join(", ")}`);
      showTimings(m, wall);
      ui.backendLine.textContent =
        `Ran on ${m.provider === "webgpu" ? "WebGPU" : "WASM"} (compile ${m.compile})${m.fallbackReason ? `: WebGPU not used: ${m.fallbackReason}` : ""}. ${state.webgpu?.available ? "" : `WebGPU not used: ${state.webgpu?.reason}`}`.trim();
      setStatus(`Generated ${m.labels.length} images in ${wall.toFixed(0)} ms.`);
      ui.download.disabled = false;
      setBusy(false);
      break;
    }
    case "cancelled":
      if (m.id === currentId) {
        setStatus("Cancelled.");
        setBusy(false);
      }
      break;
    case "error":
      showError(m.message);
      setStatus(m.stage === "load" ? "The model could not be loaded." : "Generation failed.");
      if (m.stage === "load") state.ready = false;
      setBusy(false);
      break;
  }
};

worker.onerror = (e) => {
  showError(`the generation worker failed: ${e.message || "could not start (see the browser console)"}`);
  setStatus("Not ready.");
  setBusy(false);
};

function syncMethod(): void {
  const plan = ui.method.value === "plan";
  const steps = ui.method.value !== "plan" && ui.method.value !== "dopri5";
  ui.plan.hidden = ui.planLabel.hidden = !plan;
  ui.steps.hidden = ui.stepsLabel.hidden = !steps;
}

function syncModelKind(): void {
  ui.modelUrl.hidden = ui.modelKind.value !== "url";
  ui.modelFile.hidden = ui.modelKind.value !== "file";
}

ui.method.addEventListener("change", syncMethod);
ui.modelKind.addEventListener("change", syncModelKind);
ui.load.addEventListener("click", loadModel);
ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  generate();
});
ui.cancel.addEventListener("click", () => send({ type: "cancel", id: currentId }));
ui.download.addEventListener("click", () => {
  ui.canvas.toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `flowturbo-seed${ui.seed.value}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }, "image/png");
});

/** Query-string settings: ?backend=&base=&refiner=&vae=&vaeConfig=&heads=&class=&method=&plan=&steps=&cfg=&seed=&n=&batch=&compile=&preview=0 */
function applyQuery(): void {
  const q = new URLSearchParams(location.search);
  const set = (input: HTMLInputElement | HTMLSelectElement, key: string) => {
    const v = q.get(key);
    if (v !== null) input.value = v;
  };
  set(ui.backend, "backend");
  set(ui.method, "method");
  set(ui.plan, "plan");
  set(ui.steps, "steps");
  set(ui.cfg, "cfg");
  if (q.get("cfg") !== null) state.cfgChosen = true;
  set(ui.seed, "seed");
  set(ui.count, "n");
  set(ui.batch, "batch");
  set(ui.compile, "compile");
  set(ui.heads, "heads");
  if (q.get("preview") === "0") ui.preview.checked = false;
  if (q.get("base")) {
    ui.modelKind.value = "url";
    ui.baseUrl.value = q.get("base")!;
    ui.refinerUrl.value = q.get("refiner") ?? "";
    ui.vaeUrl.value = q.get("vae") ?? "";
    ui.vaeConfigUrl.value = q.get("vaeConfig") ?? "";
  }
  const cls = q.get("class");
  if (cls !== null) ui.cls.replaceChildren(new Option(cls, cls));
}

ui.cfg.addEventListener("input", () => {
  state.cfgChosen = true;
});
applyQuery();
syncMethod();
syncModelKind();
loadModel();
