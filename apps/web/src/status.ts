// The words of the status line: what the page says during downloads, compilation, sampling, the GPU
// wait and decoding, and after a run. No DOM: Node tests run it.
import type { FromWorker } from "./protocol";

export type ProgressMessage = Extract<FromWorker, { type: "progress" }>;
export type DownloadMessage = Extract<FromWorker, { type: "download" }>;

/** "1 image", "9 images". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Images a..b (1-based) of a run of `total`: "the image", "image 3 of 9", "images 10-18 of 500". */
export function imageRange(first: number, last: number, total: number): string {
  if (total === 1) return "the image";
  if (first === last) return `image ${first} of ${total}`;
  if (first === 1 && last === total) return `all ${total} images`;
  return `images ${first}-${last} of ${total}`;
}

/** Seconds for people: "0.8 s", "14 s", "2 min 5 s". */
export function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** "Downloading base.safetensors: 1.2 / 7.7 MB" (or "Reading cached ..."). */
export function downloadText(m: Pick<DownloadMessage, "file" | "loaded" | "total" | "cached">): string {
  const mb = (b: number) => (b / 1e6).toFixed(1);
  return `${m.cached ? "Reading cached" : "Downloading"} ${m.file}: ${mb(m.loaded)}${m.total ? ` / ${mb(m.total)}` : ""} MB`;
}

/**
 * Below this many parameters a model's graphs compile in seconds: the embedded emoji model (1.6 M)
 * takes 0.4-1.4 s on WASM and about 2 s on WebGPU (SwiftShader) in docs/benchmarks.md.
 */
export const SMALL_MODEL_PARAMETERS = 20e6;

/**
 * How long compiling takes here: the last measured time for this model, provider and level, else a
 * guess from the model's size (a SiT-XL/2 has 675 M parameters).
 */
export function compileEstimate(lastMs: number | undefined, parameters: number): string {
  if (lastMs !== undefined) return `about ${seconds(lastMs)} last time`;
  return parameters < SMALL_MODEL_PARAMETERS ? "usually a few seconds" : "usually 10-60 s";
}

export interface StatusContext {
  /** The provider the model was loaded for ("webgpu" runs blocks asynchronously). */
  provider?: string;
  /** Live preview on (on WebGPU each block is then downloaded, so steps are finished, not queued). */
  preview: boolean;
  /** What compileEstimate says for this run. */
  estimate: string;
}

/** The status line for a progress message: the phase, which images, which step of how many. */
export function progressText(m: ProgressMessage, ctx: StatusContext): string {
  const images = imageRange(m.done + 1, m.done + m.inBatch, m.total);
  const batch = m.batches > 1 ? ` (batch ${m.batch + 1} of ${m.batches})` : "";
  const gpu = ctx.provider === "webgpu";
  switch (m.phase) {
    case "compile":
      return `Compiling the model for these settings (compile ${m.compile}, first run with them: ${ctx.estimate})...`;
    case "sample": {
      const of = m.steps ? `${m.step}/${m.steps}` : `${m.step} (t = ${m.t.toFixed(2)})`;
      const queued = gpu && !ctx.preview && m.compile === "block" ? " queued on the GPU" : "";
      return `Sampling ${images}${batch}: step ${of}${queued}`;
    }
    case "readback":
      return gpu
        ? `Waiting for the GPU to finish the ${m.steps ?? m.step} queued steps of ${images}${batch} (WebGPU runs them after they are sent)...`
        : `Collecting ${images}${batch}...`;
    case "decode":
      return `Decoding ${images}${batch}...`;
    case "done":
      return `Finished ${imageRange(1, m.done, m.total).replace("all ", "")}${m.done < m.total ? `; ${m.total - m.done} to go` : ""}.`;
  }
}
