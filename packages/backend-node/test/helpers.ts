// Shared test helpers: child processes running TypeScript from source, and the WebGPU availability rule.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a TypeScript file of this package in a fresh Node process (workspace sources, tsx). */
export function runTs(file: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 50_000): Promise<ChildResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@flowturbo/source", "--import", tsx, file], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** The last JSON line a child printed. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  if (!lines.length) throw new Error(`no JSON line in child output:\n${stdout}`);
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** SwiftShader's Vulkan ICD (Debian's chromium package ships it), unless VK_ICD_FILENAMES names another. */
export const VK_ICD = process.env.VK_ICD_FILENAMES || "/usr/lib/chromium/vk_swiftshader_icd.json";

/** Environment for a child process that should find a Vulkan adapter for Dawn. */
export function vulkanEnv(): NodeJS.ProcessEnv {
  // Dawn dlopens libvulkan.so.1: the system's (package libvulkan1) or the copy next to the ICD
  const dir = dirname(VK_ICD);
  const ld = existsSync(`${dir}/libvulkan.so.1`)
    ? [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":")
    : process.env.LD_LIBRARY_PATH;
  return { VK_ICD_FILENAMES: VK_ICD, ...(ld ? { LD_LIBRARY_PATH: ld } : {}) };
}

/**
 * Why WebGPU tests cannot run here (undefined when they can). With FLOWTURBO_REQUIRE_WEBGPU=1 a missing
 * ICD is a failure, otherwise the tests are skipped with this reason.
 */
export function webgpuUnavailable(): string | undefined {
  if (process.platform !== "linux")
    return `the SwiftShader WebGPU tests run on Linux only (${process.platform})`;
  if (!existsSync(VK_ICD)) {
    return `no Vulkan ICD at ${VK_ICD} (apt-get install chromium, or set VK_ICD_FILENAMES)`;
  }
  return undefined;
}

export const requireWebGpu = process.env.FLOWTURBO_REQUIRE_WEBGPU === "1";
