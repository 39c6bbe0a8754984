// Helpers shared by checkPackages.ts and smoke.ts: the publishable packages, packing them as
// `pnpm publish` would, running commands, and a small pass/fail report.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = join(ROOT, "node_modules", ".bin");

export interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  exports?: Record<string, unknown>;
  publishConfig?: { exports?: Record<string, unknown> };
  files?: string[];
}

export interface WorkspacePackage {
  name: string;
  dir: string;
  pkg: PackageJson;
}

/** The packages that are published: every packages/* package that is not private. */
export function publishablePackages(): WorkspacePackage[] {
  const base = join(ROOT, "packages");
  return readdirSync(base)
    .filter((d) => existsSync(join(base, d, "package.json")))
    .map((d) => {
      const pkg = JSON.parse(readFileSync(join(base, d, "package.json"), "utf8")) as PackageJson;
      return { name: pkg.name, dir: join(base, d), pkg };
    })
    .filter((p) => !p.pkg.private)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Every file the published exports map points at (string targets, nested conditions included). */
export function exportTargets(exportsMap: unknown): string[] {
  if (typeof exportsMap === "string") return [exportsMap];
  if (typeof exportsMap !== "object" || exportsMap === null) return [];
  return Object.values(exportsMap).flatMap(exportTargets);
}

/** Throws unless the package's build output exists (the checks run on built packages). */
export function requireBuilt(p: WorkspacePackage): void {
  const missing = exportTargets(p.pkg.publishConfig?.exports ?? p.pkg.exports).filter(
    (t) => !existsSync(join(p.dir, t)),
  );
  if (missing.length > 0) {
    throw new Error(
      `${p.name}: ${missing.join(", ")} missing; build the packages first (pnpm build:packages)`,
    );
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr } satisfies RunResult;
}

/** `pnpm pack` (which applies publishConfig and turns workspace: ranges into versions) into `dest`. */
export function pack(p: WorkspacePackage, dest: string): string {
  const r = run("pnpm", ["pack", "--pack-destination", dest], { cwd: p.dir });
  const file = join(dest, `${p.name.replace(/^@/, "").replace("/", "-")}-${p.pkg.version}.tgz`);
  if (r.code !== 0 || !existsSync(file)) {
    throw new Error(`pnpm pack ${p.name} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return file;
}

/** Named checks with a closing "N passed, N failed" line. */
export class Report {
  private passed = 0;
  private readonly failures: string[] = [];

  constructor(private readonly title: string) {}

  /** Runs one check; a thrown error is a failure with its message. */
  check(name: string, fn: () => unknown): void {
    const t0 = performance.now();
    try {
      const note = fn();
      this.passed++;
      const ms = (performance.now() - t0).toFixed(0);
      console.log(`  ok   ${name}${typeof note === "string" ? `: ${note}` : ""} (${ms} ms)`);
    } catch (e) {
      this.failures.push(name);
      console.log(`  FAIL ${name}\n${indent(e instanceof Error ? e.message : String(e))}`);
    }
  }

  /** Prints the closing line and returns the exit code. */
  finish(): number {
    if (this.failures.length > 0) console.log(`failed: ${this.failures.join("; ")}`);
    console.log(`${this.title}: ${this.passed} passed, ${this.failures.length} failed`);
    return this.failures.length > 0 ? 1 : 0;
  }
}

export function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `       ${l}`)
    .join("\n");
}

/** Throws with the command's output unless it exited 0. */
export function expectSuccess(what: string, r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}
