// The status line's words: plurals, which images of how many, the phase of a run and the GPU wait.
import { describe, expect, test } from "vitest";
import {
  compileEstimate,
  imageRange,
  type ProgressMessage,
  plural,
  progressText,
  seconds,
} from "../src/status";

const progress = (p: Partial<ProgressMessage>): ProgressMessage => ({
  type: "progress",
  id: 1,
  at: 0,
  phase: "sample",
  done: 0,
  total: 9,
  batch: 0,
  batches: 1,
  inBatch: 9,
  step: 3,
  steps: 9,
  t: 0.3,
  fraction: 0.3,
  nfe: { base: 3, refiner: 0 },
  compile: "block",
  ...p,
});
const wasm = { provider: "wasm", preview: true, estimate: "usually 10-60 s" };

describe("status texts", () => {
  test("plurals and image ranges read as counts, not ranges of numbers", () => {
    expect(plural(1, "image")).toBe("1 image");
    expect(plural(9, "image")).toBe("9 images");
    expect(imageRange(1, 1, 1)).toBe("the image");
    expect(imageRange(3, 3, 9)).toBe("image 3 of 9");
    expect(imageRange(1, 9, 9)).toBe("all 9 images");
    expect(imageRange(10, 18, 500)).toBe("images 10-18 of 500");
    expect(seconds(840)).toBe("0.8 s");
    expect(seconds(14_200)).toBe("14 s");
    expect(seconds(125_000)).toBe("2 min 5 s");
    expect(compileEstimate(undefined, 1.6e6)).toBe("usually a few seconds");
    expect(compileEstimate(undefined, 675e6)).toBe("usually 10-60 s");
    expect(compileEstimate(21_000, 675e6)).toBe("about 21 s last time");
  });

  test("every phase is named: compile, step k/n of which images, GPU wait, decode, done", () => {
    expect(progressText(progress({ phase: "compile", step: 0 }), wasm)).toBe(
      "Compiling the model for these settings (compile block, first run with them: usually 10-60 s)...",
    );
    expect(progressText(progress({}), wasm)).toBe("Sampling all 9 images: step 3/9");
    expect(progressText(progress({ done: 9, inBatch: 9, total: 500, batch: 1, batches: 56 }), wasm)).toBe(
      "Sampling images 10-18 of 500 (batch 2 of 56): step 3/9",
    );
    expect(progressText(progress({ steps: undefined, t: 0.4567 }), wasm)).toBe(
      "Sampling all 9 images: step 3 (t = 0.46)",
    );
    const gpu = { ...wasm, provider: "webgpu", preview: false };
    expect(progressText(progress({}), gpu)).toBe("Sampling all 9 images: step 3/9 queued on the GPU");
    expect(progressText(progress({ phase: "readback", step: 9 }), gpu)).toBe(
      "Waiting for the GPU to finish the 9 queued steps of all 9 images (WebGPU runs them after they are sent)...",
    );
    expect(progressText(progress({ phase: "readback" }), wasm)).toBe("Collecting all 9 images...");
    expect(progressText(progress({ phase: "decode", total: 1, inBatch: 1 }), wasm)).toBe(
      "Decoding the image...",
    );
    expect(progressText(progress({ phase: "done", done: 9, total: 18 }), wasm)).toBe(
      "Finished images 1-9 of 18; 9 to go.",
    );
    expect(progressText(progress({ phase: "done", done: 18, total: 18 }), wasm)).toBe("Finished 18 images.");
  });
});
