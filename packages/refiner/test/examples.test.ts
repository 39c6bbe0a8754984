// The README's examples are the files in examples/, verbatim; each one runs here as written.
import { join } from "node:path";
import { readmeExamples } from "@flowturbo/test-support";
import { describe, expect, test } from "vitest";

const ex = readmeExamples(join(import.meta.dirname, ".."));

describe("README examples", () => {
  test("are in the README verbatim", () => {
    expect(ex.files.length).toBeGreaterThan(0);
    expect(ex.notInReadme()).toEqual([]);
  });

  test("run as written", async () => {
    expect(await ex.run("objective.ts")).toMatch(/^teacher\/refiner loss 0\.\d+$/);
  });
});
