import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor } from "@flowturbo/tensor";
import { saveNpzFile } from "@flowturbo/tensor/node";
import { readmeExamples } from "@flowturbo/test-support";
import { afterEach, describe, expect, it, vi } from "vitest";
import { inceptionProceduralWeights, loadCase } from "./golden";
import { writeTorchStateDict } from "./torchFile";

// The README's examples are the files in examples/, verbatim; each one runs here as written.
const examples = readmeExamples(join(import.meta.dirname, ".."));

/** Runs an example with its console.error quiet (the extractor's progress). */
function runExample(file: string): Promise<string> {
  vi.spyOn(console, "error").mockImplementation(() => {});
  return examples.run(file);
}

describe("README examples", () => {
  afterEach(() => vi.restoreAllMocks());

  it("are all in the README verbatim", () => {
    expect(examples.files.length).toBe(2);
    expect(examples.notInReadme()).toEqual([]);
  });

  it("fidMath: statistics, FID terms, stats file, IS, precision/recall", async () => {
    const out = await runExample("fidMath.ts");
    expect(out).toMatch(/^FID \d+\.\d{6} = /m);
    expect(out).toMatch(/^stats file: \d+ bytes, n = 1000$/m);
    expect(out).toMatch(/^IS \d+\.\d{4}$/m);
    expect(out).toMatch(/^precision 0\.\d{4} recall 0\.\d{4}$/m);
  });

  it("evalNpz: a sample npz against a reference batch through ORT CPU (procedural .pth)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "metrics-example-"));
    try {
      process.env.FID_WEIGHTS = join(dir, "pt_inception.pth");
      await writeTorchStateDict(process.env.FID_WEIGHTS, await inceptionProceduralWeights());
      const { tensors } = await loadCase("metrics/adm_npz");
      process.env.SAMPLES = join(dir, "samples.npz");
      await saveNpzFile(process.env.SAMPLES, {
        arr_0: new Tensor("uint8", [6, 16, 16, 3], tensors.get("arr_0")!.data as Uint8Array),
      });
      // the reference side must have matching dimensions: our own stats of the same samples
      const { writeStatsForInput } = await import("../src/node");
      const { InceptionExtractor } = await import("../src");
      const { createNodeBackend } = await import("@flowturbo/backend-node");
      const backend = createNodeBackend({ worker: false });
      const weights = await inceptionProceduralWeights();
      const ex = new InceptionExtractor(backend, weights, { batchSize: 6 });
      process.env.REFERENCE = join(dir, "ref_stats.npz");
      await writeStatsForInput(process.env.SAMPLES, process.env.REFERENCE, { extractor: ex });
      await ex.release();
      await backend.close();
      const out = await runExample("evalNpz.ts");
      expect(out).toMatch(/^A +\S*samples\.npz \(samples, n=6\)$/m);
      expect(out).toMatch(/^B +\S*ref_stats\.npz \(stats, n=6\)$/m);
      expect(out).toMatch(/^FID +-?0\.0000$/m);
      expect(out).toMatch(/^IS \(A\) +\d+\.\d{3}$/m);
    } finally {
      for (const k of ["FID_WEIGHTS", "SAMPLES", "REFERENCE"]) delete process.env[k];
      await rm(dir, { recursive: true, force: true });
    }
  });
});
