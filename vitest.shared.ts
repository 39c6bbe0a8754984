// Shared vitest settings: resolve workspace packages to their TypeScript sources (no build needed).
import { defineConfig } from "vitest/config";

export const conditions = ["@flowturbo/source", "module", "import", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@flowturbo/source"] } },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
