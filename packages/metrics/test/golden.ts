// Reads the golden fixtures (fixtures/golden at the repository root; provenance in its README).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ProceduralRule, proceduralStateDict, readSafetensors, type Tensor } from "@flowturbo/tensor";
import { goldenPath } from "@flowturbo/test-support";

/** fixtures/golden: cases are named from there, e.g. "inception/inception_fid", "metrics/adm_npz". */
export const FIXTURES = goldenPath();

export async function loadCase(
  name: string,
): Promise<{ tensors: Map<string, Tensor>; meta: Record<string, unknown> }> {
  const bytes = new Uint8Array(await readFile(join(FIXTURES, name, "case.safetensors")));
  const { tensors } = await readSafetensors(bytes, { name: `${name}/case.safetensors` });
  const meta = JSON.parse(await readFile(join(FIXTURES, name, "case.json"), "utf8")) as Record<
    string,
    unknown
  >;
  return { tensors, meta };
}

/** The procedural Inception weights of the inception_fid case (regenerated from its rule table). */
export async function inceptionProceduralWeights(): Promise<Map<string, Tensor>> {
  const { meta } = await loadCase("inception/inception_fid");
  return proceduralStateDict(meta.procedural_rules as ProceduralRule[]);
}

/** max |a - b| / max |b| with b the reference. */
export function relMaxError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != ${ref.length}`);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
  }
  return maxDiff / Math.max(maxRef, 1e-300);
}

/** Deterministic uniform [0,1) numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
