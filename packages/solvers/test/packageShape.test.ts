import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as api from "../src/index";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const srcFiles = readdirSync(join(root, "src")).filter((f) => f.endsWith(".ts"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** The exports map without the workspace-only source condition: what the tarball must publish. */
function withoutSource(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== "@flowturbo/source")
      .map(([k, v]) => [k, withoutSource(v)]),
  );
}

describe("published-package shape", () => {
  it("has no runtime dependencies and an ESM + CommonJS exports map with types for each", () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.type).toBe("module");
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.exports["."]).toMatchObject({
      "@flowturbo/source": "./src/index.ts",
      import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
      require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
    });
  });

  it("publishes the same exports without the workspace's source condition, and its license", () => {
    expect(pkg.publishConfig.exports).toEqual(withoutSource(pkg.exports));
    expect(JSON.stringify(pkg.publishConfig)).not.toContain("@flowturbo/source");
    for (const field of ["main", "module", "types"]) expect(pkg.publishConfig[field]).toBe(pkg[field]);
    expect(pkg.files).toContain("LICENSE");
    const license = readFileSync(join(root, "LICENSE"), "utf8");
    expect(license).toBe(readFileSync(join(root, "..", "..", "LICENSE"), "utf8"));
    expect(license).toMatch(/^MIT License/);
    expect(pkg.license).toBe("MIT");
  });

  it("src imports only its own files, has no import cycle and uses no Node-only globals", () => {
    expect(srcFiles.length).toBeGreaterThan(10);
    const imports = new Map<string, string[]>();
    for (const file of srcFiles) {
      const text = readFileSync(join(root, "src", file), "utf8");
      const deps: string[] = [];
      for (const m of text.matchAll(/from\s+"([^"]+)"/g)) {
        expect(m[1], `${file}: ${m[1]}`).toMatch(/^\.\//);
        deps.push(`${m[1].slice(2)}.ts`);
      }
      imports.set(file, deps);
      expect(text, file).not.toMatch(/\b(process|Buffer|require|__dirname|setImmediate)\b/);
    }
    // Depth-first search over the import graph (type imports included).
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === "done") return;
      expect(state.get(file), `import cycle: ${[...path, file].join(" -> ")}`).not.toBe("open");
      state.set(file, "open");
      for (const dep of imports.get(file) ?? []) visit(dep, [...path, file]);
      state.set(file, "done");
    };
    for (const file of srcFiles) visit(file, []);
  });

  it("exports the solvers, the scheduler, plan tools, guidance and ops", () => {
    for (const name of [
      "solveFixedStep",
      "solveDopri5",
      "solveSde",
      "sampleFlowTurbo",
      "FlowMatchScheduler",
      "parsePlan",
      "guidedVelocity",
      "guidedRefiner",
      "classifierFreeGuidance",
      "NonFiniteError",
      "fromTorchdiffeqMethod",
      "float32Ops",
      "sitGrid",
      "uniformGrid",
      "shiftedGrid",
    ]) {
      expect(api, name).toHaveProperty(name);
    }
  });
});
