// What every package's tests share: which tier runs, how long a test may take before it counts as hung,
// what to do when a prerequisite is missing, and child processes that run workspace TypeScript.
//
// Tiers: `pnpm test` runs the quick tier (everything a change needs, minutes on 2 cores); CI sets
// FLOWTURBO_TEST_TIER=full, which adds the slow checks (float64 interpreter on real-size networks, browser
// end-to-end runs, multi-process integration) and makes missing prerequisites failures instead of skips.
// No test asserts a duration: the timeouts here are safety nets for hung tests, never the thing checked.
//
// Golden fixtures: the official-PyTorch reference outputs live once, in fixtures/golden/ at the repository
// root (provenance in its README.md); tests reach them through goldenPath / readGolden.
import { spawn } from "node:child_process";
import { crc32, createDeflateRaw } from "node:zlib";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { vi } from "vitest";

export type TestTier = "quick" | "full";

/** The repository root (this file is tools/test-support/index.ts). */
export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

/** fixtures/golden: one copy of every golden fixture, laid out as the shared golden set (sit/, vae/, inception/, metrics/). */
export const GOLDEN_DIR = join(REPO_ROOT, "fixtures", "golden");

/**
 * The absolute path of a golden fixture (file or folder), e.g. goldenPath("sit/sit.pt") or
 * goldenPath("vae", "vae_tiny"); no argument: fixtures/golden itself. Throws when it does not exist, so a
 * mistyped name fails where it is written.
 */
export function goldenPath(...relative: string[]): string {
  const path = resolve(GOLDEN_DIR, ...relative);
  if (path !== GOLDEN_DIR && !path.startsWith(GOLDEN_DIR + sep))
    throw new Error(`goldenPath(${relative.join(", ")}): outside fixtures/golden`);
  if (!existsSync(path)) throw new Error(`no golden fixture ${path} (see fixtures/golden/README.md)`);
  return path;
}

/** The bytes of a golden fixture file, e.g. readGolden("metrics/adm_npz/adm_npz.npz"). */
export async function readGolden(relative: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(goldenPath(relative)));
}

/** readGolden, synchronously (for module-level constants of a test file). */
export function readGoldenSync(relative: string): Uint8Array {
  return new Uint8Array(readFileSync(goldenPath(relative)));
}

/**
 * The golden tiny VAE (vae/vae_tiny: its config.json and the legacy-named weights, the key names of
 * the released sd-vae-ft-ema) as a diffusers folder, `dir`/vae_tiny with config.json +
 * diffusion_pytorch_model.safetensors, for code that takes such a folder. Returns the folder.
 */
export async function goldenVaeFolder(dir: string): Promise<string> {
  const folder = join(dir, "vae_tiny");
  await mkdir(folder, { recursive: true });
  await copyFile(goldenPath("vae/vae_tiny/config.json"), join(folder, "config.json"));
  await copyFile(
    goldenPath("vae/vae_tiny/vae_tiny_legacy_names.safetensors"),
    join(folder, "diffusion_pytorch_model.safetensors"),
  );
  return folder;
}

/** FLOWTURBO_TEST_TIER: "full" in CI; anything else is the quick tier. */
export const TEST_TIER: TestTier = process.env.FLOWTURBO_TEST_TIER === "full" ? "full" : "quick";
export const FULL_TIER = TEST_TIER === "full";

/**
 * How long one test (or hook, or child process) may run before it is treated as hung: FLOWTURBO_TEST_TIMEOUT_S
 * seconds, default 20 minutes. Generous on purpose: a loaded 2-core machine may be 10x slower than an idle one.
 */
export const SAFETY_TIMEOUT_MS = (Number(process.env.FLOWTURBO_TEST_TIMEOUT_S) || 1200) * 1000;

/** Why a full-tier test is skipped in the quick tier (test.skipIf(!FULL_TIER) names it in the title). */
export const FULL_TIER_ONLY = "full tier only: FLOWTURBO_TEST_TIER=full (CI)";

/**
 * A test that needs something from the machine (`missing` says what is absent, undefined when present):
 * in the full tier a missing prerequisite fails the test; in the quick tier the test is skipped with a
 * warning that names it.
 */
export function needs(ctx: { skip(note?: string): void }, what: string, missing: string | undefined): void {
  if (!missing) return;
  if (FULL_TIER) throw new Error(`FLOWTURBO_TEST_TIER=full needs ${what}, but ${missing}`);
  console.warn(`skipping ${what}: ${missing}`);
  ctx.skip(missing);
}

/** Same rule at file level (describe.skipIf): true when the tests should be skipped; throws in the full tier. */
export function skipWithout(what: string, missing: string | undefined): boolean {
  if (!missing) return false;
  if (FULL_TIER) throw new Error(`FLOWTURBO_TEST_TIER=full needs ${what}, but ${missing}`);
  console.warn(`skipping ${what}: ${missing}`);
  return true;
}

/** SwiftShader's Vulkan ICD (Debian's chromium package ships it), unless VK_ICD_FILENAMES names another. */
export const VK_ICD = process.env.VK_ICD_FILENAMES || "/usr/lib/chromium/vk_swiftshader_icd.json";

/** Why WebGPU (Dawn on Vulkan) cannot run in Node here, or undefined. */
export function webgpuUnavailable(): string | undefined {
  if (process.platform !== "linux")
    return `the SwiftShader WebGPU tests run on Linux only (${process.platform})`;
  if (!existsSync(VK_ICD))
    return `no Vulkan ICD at ${VK_ICD} (apt-get install chromium, or set VK_ICD_FILENAMES)`;
  return undefined;
}

/** Environment for a child process that should find a Vulkan adapter for Dawn (read at process start). */
export function vulkanEnv(): NodeJS.ProcessEnv {
  // Dawn dlopens libvulkan.so.1: the system's (package libvulkan1) or the copy next to the ICD
  const dir = dirname(VK_ICD);
  const ld = existsSync(`${dir}/libvulkan.so.1`)
    ? [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":")
    : process.env.LD_LIBRARY_PATH;
  return { VK_ICD_FILENAMES: VK_ICD, ...(ld ? { LD_LIBRARY_PATH: ld } : {}) };
}

const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Node's arguments that run a workspace TypeScript file from source (tsx, the @flowturbo/source condition). */
export const TS_NODE_ARGS: readonly string[] = ["--conditions=@flowturbo/source", "--import", TSX];

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** With `peakRss`: the child's peak resident set size in bytes (process.resourceUsage().maxRSS at exit). */
  peakRssBytes?: number;
}

export interface ChildOptions {
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed (and the promise rejected) after this long; default SAFETY_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Report the child's peak resident memory (`peakRssBytes`), for memory-bounded checks. */
  peakRss?: boolean;
}

/** A line the child writes to stderr at exit with its peak RSS in kB (see ChildOptions.peakRss). */
const PEAK_RSS_TAG = "flowturbo-test-peak-rss-kb";
const PEAK_RSS_MODULE = `data:text/javascript,${encodeURIComponent(
  `import { writeSync } from "node:fs"; process.on("exit", () => writeSync(2, "\\n${PEAK_RSS_TAG} " + process.resourceUsage().maxRSS + "\\n"));`,
)}`;

/** Runs a TypeScript file in a fresh Node process and collects its output. */
export function runTs(file: string, opts: ChildOptions = {}): Promise<ChildResult> {
  const timeoutMs = opts.timeoutMs ?? SAFETY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const rss = opts.peakRss ? ["--import", PEAK_RSS_MODULE] : [];
    const child = spawn(process.execPath, [...rss, ...TS_NODE_ARGS, file, ...(opts.args ?? [])], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
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
      reject(new Error(`${file} was still running after ${timeoutMs / 1000} s (killed)\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const tag = new RegExp(`\\n${PEAK_RSS_TAG} (\\d+)\\n`).exec(stderr);
      if (!tag) return resolve({ code, signal, stdout, stderr });
      const rest = stderr.replace(tag[0], "");
      resolve({ code, signal, stdout, stderr: rest, peakRssBytes: Number(tag[1]) * 1024 });
    });
  });
}

/**
 * A zip archive with one deflated member `name` holding `zeros` zero bytes (deflate packs them about
 * 1000:1, so a few MB of file can declare GBs: a decompression bomb), declaring `declaredSize` bytes
 * (default: the real size). Built in 1 MiB steps: the test process never holds the inflated bytes.
 */
export async function zeroBombZip(name: string, zeros: number, declaredSize = zeros): Promise<Uint8Array> {
  const deflate = createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on("data", (d: Buffer) => parts.push(d));
  const done = new Promise((ok, fail) => {
    deflate.on("end", ok);
    deflate.on("error", fail);
  });
  const chunk = Buffer.alloc(1 << 20);
  let crc = 0;
  for (let left = zeros; left > 0; left -= chunk.length) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    crc = crc32(part, crc);
    if (!deflate.write(part)) await new Promise((ok) => deflate.once("drain", ok));
  }
  deflate.end();
  await done;
  const data = Buffer.concat(parts);
  const nameBytes = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(declaredSize, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(declaredSize, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = local.length + nameBytes.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12);
  end.writeUInt32LE(cdOffset, 16);
  return new Uint8Array(Buffer.concat([local, nameBytes, data, central, nameBytes, end]));
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

/**
 * A package's README examples (examples/*.ts under `packageRoot`): `files`, the ones whose code is not in
 * the README verbatim, and `run(file)`, which imports one and returns what it printed with console.log.
 */
export function readmeExamples(packageRoot: string): {
  files: string[];
  notInReadme(): string[];
  run(file: string): Promise<string>;
} {
  const readme = readFileSync(join(packageRoot, "README.md"), "utf8");
  const dir = join(packageRoot, "examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
  return {
    files,
    notInReadme: () => files.filter((f) => !readme.includes(readFileSync(join(dir, f), "utf8").trim())),
    async run(file) {
      const lines: string[] = [];
      const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
        lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      });
      try {
        await import(pathToFileURL(join(dir, file)).href);
      } finally {
        log.mockRestore();
      }
      return lines.join("\n");
    },
  };
}
