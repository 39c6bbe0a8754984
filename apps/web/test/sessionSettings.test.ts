import { describe, expect, test } from "vitest";
import { pipelineOptions, SMALL_MODEL_PARAMETERS, wasmThreads } from "../src/sessionSettings";

describe("sessionSettings", () => {
  test("WASM threads: up to 4 on a cross-origin isolated page, else 1", () => {
    expect(wasmThreads(true, 2)).toBe(2);
    expect(wasmThreads(true, 16)).toBe(4);
    expect(wasmThreads(true, 0)).toBe(1);
    expect(wasmThreads(false, 16)).toBe(1);
  });

  test("WASM runs embedded weights at ORT's basic level, H blocks on the P graph; WebGPU keeps shared weights, the default level, the plain form", () => {
    expect(pipelineOptions(["wasm"], 1.6e6)).toEqual({
      providers: ["wasm"],
      keepSessions: 4,
      weightMode: "initializers",
      optimization: "basic",
      heunAsP: true,
    });
    expect(pipelineOptions(["webgpu", "wasm"], 1.6e6)).toEqual({
      providers: ["webgpu", "wasm"],
      keepSessions: 4,
      form: "plain",
    });
  });

  test("large models keep one set of sessions", () => {
    expect(pipelineOptions(["wasm"], SMALL_MODEL_PARAMETERS + 1).keepSessions).toBe(1);
    expect(pipelineOptions(["webgpu"], SMALL_MODEL_PARAMETERS).keepSessions).toBe(4);
  });
});
