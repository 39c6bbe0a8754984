// Reads the golden SiT fixtures (fixtures/golden/sit at the repository root; provenance in its README).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SiTConfig } from "@flowturbo/sit";
import { readSafetensors, type Tensor } from "@flowturbo/tensor";
import { goldenPath } from "@flowturbo/test-support";
import { expect } from "vitest";

/** fixtures/golden/sit: "sit.safetensors", "sit_forward", "refiner.pt", ... are named from there. */
export const FIXTURES = goldenPath("sit");

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

/** Relative L2 error ||got - ref|| / ||ref|| (the golden README's measure for trajectories and gradients). */
export function relL2(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (got[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** The golden set's "tiny" SiT: input 8x8x4, patch 2, hidden 64, depth 2, heads 4, 1000 classes, learn_sigma. */
export const TINY: SiTConfig = {
  inputSize: 8,
  patchSize: 2,
  inChannels: 4,
  outChannels: 8,
  keepChannels: 4,
  hiddenSize: 64,
  depth: 2,
  numHeads: 4,
  numClasses: 1000,
  mlpRatio: 4,
};

/** Same keys, shapes and bytes. */
export function sameTensors(a: Map<string, Tensor>, b: Map<string, Tensor>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect(u.shape, k).toEqual(t.shape);
    expect(
      Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(
        Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      ),
      k,
    ).toBe(true);
  }
}
