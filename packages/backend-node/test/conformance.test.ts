import { runConformance } from "@flowturbo/core";
import { afterAll, describe, expect, test } from "vitest";
import { createNodeBackend } from "../src";

describe.each([
  { mode: "worker", worker: true },
  { mode: "in-thread", worker: false },
])("conformance on ORT CPU ($mode)", ({ worker }) => {
  const backend = createNodeBackend({ worker });
  afterAll(() => backend.close());

  test("every op family matches the float64 reference interpreter", async () => {
    const providers = new Set<string>();
    const results = await runConformance(
      {
        name: backend.name,
        providers: () => backend.providers(),
        load: async (source, opts) => {
          const s = await backend.load(source, opts);
          providers.add(s.provider);
          return s;
        },
      },
      { providers: ["cpu"] },
    );
    expect([...providers]).toEqual(["cpu"]);
    expect(backend.mode).toBe(worker ? "worker" : "in-thread");
    expect(results.length).toBeGreaterThan(30);
    const failed = results.filter((r) => !r.passed).map((r) => `${r.name}/${r.output}: ${r.relError}`);
    expect(failed).toEqual([]);
  });
});
