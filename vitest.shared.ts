// Shared vitest settings: resolve workspace packages to their TypeScript sources (no build needed), and
// keep a busy 2-core machine from being oversubscribed (see the README's Development section).
import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { SAFETY_TIMEOUT_MS } from "./tools/test-support/index.ts";

export const conditions = ["@flowturbo/source", "module", "import", "default"];

/** Test files run at once in one package (turbo runs one package at a time): FLOWTURBO_TEST_WORKERS or the cores, at most 4. */
const workers =
  Number(process.env.FLOWTURBO_TEST_WORKERS) || Math.max(1, Math.min(4, availableParallelism()));

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@flowturbo/source"] } },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    pool: "forks",
    maxWorkers: workers,
    // safety nets for hung tests, never the thing a test checks
    testTimeout: SAFETY_TIMEOUT_MS,
    hookTimeout: SAFETY_TIMEOUT_MS,
    teardownTimeout: SAFETY_TIMEOUT_MS,
    // ONNX Runtime sessions (and the CLI processes tests start) use one intra-op thread unless a test sets
    // its own: a test file is one slot of the machine's budget
    env: { FLOWTURBO_ORT_THREADS: process.env.FLOWTURBO_ORT_THREADS || "1" },
  },
});
