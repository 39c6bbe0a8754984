// Reads the golden VAE fixtures (fixtures/golden/vae at the repository root; provenance in its README).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ProceduralRule, proceduralStateDict, readSafetensors, type Tensor } from "@flowturbo/tensor";
import { goldenPath, readGolden } from "@flowturbo/test-support";

/** fixtures/golden/vae: "vae_tiny/config.json", "vae_sd_decoder", ... are named from there. */
export const FIXTURES = goldenPath("vae");

export async function loadSafetensors(relPath: string): Promise<Map<string, Tensor>> {
  const bytes = new Uint8Array(await readFile(join(FIXTURES, relPath)));
  return (await readSafetensors(bytes, { name: relPath })).tensors;
}

export function readFixture(relPath: string): Promise<Uint8Array> {
  return readGolden(`vae/${relPath}`);
}

export interface GoldenCase {
  tensors: Map<string, Tensor>;
  meta: Record<string, unknown> & { procedural_rules: ProceduralRule[] };
}

export async function loadCase(name: string): Promise<GoldenCase> {
  const tensors = await loadSafetensors(`${name}/case.safetensors`);
  const meta = JSON.parse(await readFile(join(FIXTURES, name, "case.json"), "utf8"));
  return { tensors, meta };
}

/** The case's weights regenerated from its procedural rule table. */
export function proceduralWeights(c: GoldenCase): Map<string, Tensor> {
  return proceduralStateDict(c.meta.procedural_rules);
}

/** max |got - ref| and that over max |ref|. */
export function maxErrors(got: Tensor, ref: Tensor): { abs: number; rel: number } {
  if (got.shape.join() !== ref.shape.join())
    throw new Error(`shape [${got.shape}] vs reference [${ref.shape}]`);
  const a = got.toFloat64();
  const b = ref.toFloat64();
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < b.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(b[i]));
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  }
  return { abs: maxDiff, rel: maxDiff / Math.max(maxRef, 1e-12) };
}

/** The golden README's tolerance: within 1e-4 absolute or 1e-4 relative to the largest reference magnitude. */
export function withinTolerance(e: { abs: number; rel: number }, tol = 1e-4): boolean {
  return e.abs <= tol || e.rel <= tol;
}
