import { join } from "node:path";
import { readmeExamples } from "@flowturbo/test-support";
import { describe, expect, it } from "vitest";

// The README's examples are the files in examples/, verbatim; each one runs here as written.
const examples = readmeExamples(join(import.meta.dirname, ".."));
const runExample = (file: string) => examples.run(file);

describe("README examples", () => {
  it("are all in the README verbatim", () => {
    expect(examples.files.length).toBe(3);
    expect(examples.notInReadme()).toEqual([]);
  });

  it("emoji", async () => {
    const out = await runExample("emoji.ts");
    expect(out).toMatch(/^7562 images, 9 classes: 338 4522 318 262 436 170 528 448 540$/m);
    expect(out).toMatch(/^\[16,3,32,32\] \[/m);
    expect(out).toMatch(/wrote .*grid\.png$/);
  });

  it("folders", async () => {
    const out = await runExample("folders.ts");
    expect(out).toMatch(
      /^refused: the dataset's 2 class folders \('cat', 'dog'\) do not map to the model's 1000 classes/m,
    );
    expect(out.match(/^4x3x32x32 /gm)).toHaveLength(2);
    expect(out).toMatch(/^2x3x32x32 /m);
    expect(out).toMatch(/samples\.npz \d+ bytes/);
    const labels = out.match(/^\dx3x32x32 (\S+)/gm)!.flatMap((l) => l.split(" ")[1].split(","));
    expect(labels.filter((l) => l === "281")).toHaveLength(6);
    expect(labels.filter((l) => l === "207")).toHaveLength(4);
  });

  it("latentCache", async () => {
    const out = await runExample("latentCache.ts");
    expect(out).toMatch(/^3 shards, complete: true, latent 4,4,4$/m);
    // 10 images, batches of 6: one flip per image per epoch
    expect(out.match(/^\dx4x4x4 [01]+$/gm)).toHaveLength(2);
  });
});
