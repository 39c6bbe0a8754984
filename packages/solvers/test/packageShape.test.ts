import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as api from "../src/index";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const srcFiles = readdirSync(join(root, "src")).filter((f) => f.endsWith(".ts"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

describe("published-package shape", () => {
  it("has no runtime dependencies and an ESM exports map with types", () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.type).toBe("module");
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.exports["."]).toMatchObject({ types: "./dist/index.d.ts", import: "./dist/index.js" });
  });

  it("src imports only its own files and uses no Node-only globals", () => {
    expect(srcFiles.length).toBeGreaterThan(10);
    for (const file of srcFiles) {
      const text = readFileSync(join(root, "src", file), "utf8");
      for (const m of text.matchAll(/from\s+"([^"]+)"/g)) expect(m[1], `${file}: ${m[1]}`).toMatch(/^\.\//);
      expect(text, file).not.toMatch(/\b(process|Buffer|require|__dirname|setImmediate)\b/);
    }
  });

  it("exports the solvers, plan tools, guidance and ops", () => {
    for (const name of [
      "solveFixedStep",
      "solveDopri5",
      "solveSde",
      "sampleFlowTurbo",
      "parsePlan",
      "guidedVelocity",
      "guidedRefiner",
      "float32Ops",
      "sitGrid",
      "uniformGrid",
      "shiftedGrid",
    ]) {
      expect(api, name).toHaveProperty(name);
    }
  });
});
