// Build settings every publishable package shares: ESM (.js) and CommonJS (.cjs) bundles, each with
// its declaration file (.d.ts / .d.cts), so `import`, `require` and TypeScript's node16, nodenext and
// bundler resolutions all find code and types (checked by `pnpm check:packages`: publint + attw).
import type { Options } from "tsup";

export function libraryConfig(entry: Record<string, string>, extra: Options = {}): Options {
  return {
    entry,
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    sourcemap: true,
    // `import.meta.url` in the CommonJS bundles (worker and asset paths) resolves through a shim.
    shims: true,
    ...extra,
  };
}
