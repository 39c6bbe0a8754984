// Reads the golden fixtures copied into test/fixtures (see its README for provenance).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { readSafetensors, type Tensor } from "@flowturbo/tensor";

export const FIXTURES = join(import.meta.dirname, "fixtures");

export async function loadSafetensors(relPath: string): Promise<Map<string, Tensor>> {
  const bytes = new Uint8Array(await readFile(join(FIXTURES, relPath)));
  return (await readSafetensors(bytes, { name: relPath })).tensors;
}

export async function loadCase(
  name: string,
): Promise<{ tensors: Map<string, Tensor>; meta: Record<string, unknown> }> {
  const tensors = await loadSafetensors(`${name}/case.safetensors`);
  const meta = JSON.parse(await readFile(join(FIXTURES, name, "case.json"), "utf8")) as Record<
    string,
    unknown
  >;
  return { tensors, meta };
}

/** max |a - b| / max(|b|) with b the reference. */
export function relMaxError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
  }
  return maxDiff / Math.max(maxRef, 1e-12);
}
