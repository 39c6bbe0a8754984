// The embedded emoji model (models/emoji) as checkpoints, and the CLI's output for the same settings:
// the reference the web app's pipeline must reproduce.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS, runCli } from "@flowturbo/cli";
import { loadCheckpoint, type ModelCheckpoint } from "@flowturbo/sit";
import { readSafetensors } from "@flowturbo/tensor";
import { Writable } from "node:stream";

export const MODEL_DIR = join(import.meta.dirname, "..", "..", "..", "models", "emoji");

export async function embeddedCheckpoint(
  file: "base.safetensors" | "refiner.safetensors",
): Promise<ModelCheckpoint> {
  return loadCheckpoint(new Uint8Array(await readFile(join(MODEL_DIR, file))), { file });
}

export interface CliSampleOptions {
  plan: string;
  seed: number;
  classId: number;
  n: number;
  cfg: number;
  compile: "none" | "model" | "block";
  batch?: number;
}

/** A stream that discards what is written (the CLI's stdout/stderr in tests). */
export const sink = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

/** `flowturbo sample ... --latents-out` on the embedded model; returns the latents (= images: pixel model). */
export async function cliSample(o: CliSampleOptions): Promise<Float32Array> {
  const dir = await mkdtemp(join(tmpdir(), "flowturbo-web-cli-"));
  try {
    const out = join(dir, "latents.safetensors");
    const argv = ["sample", "--plan", o.plan, "--seed", String(o.seed), "--class", String(o.classId)];
    argv.push("--n", String(o.n), "--batch", String(o.batch ?? o.n), "--cfg", String(o.cfg));
    argv.push("--compile", o.compile, "--latents-out", out, "--no-decode");
    const code = await runCli(argv, COMMANDS, { stdout: sink(), stderr: sink() });
    if (code !== 0) throw new Error(`flowturbo ${argv.join(" ")} exited with ${code}`);
    const { tensors } = await readSafetensors(new Uint8Array(await readFile(out)), { name: out });
    return tensors.get("latents")!.toFloat32();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
