// Minified + gzipped size of the built bundle (run `pnpm build` first). esbuild comes with tsup.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist", "index.js");
const requireFromTsup = createRequire(createRequire(import.meta.url).resolve("tsup"));
// Just the part of esbuild's API used here (esbuild is not a dependency of this package).
interface EsbuildApi {
  build(options: Record<string, unknown>): Promise<{ outputFiles: { contents: Uint8Array }[] }>;
}
const esbuild: EsbuildApi = requireFromTsup("esbuild");

const raw = readFileSync(dist);
const min = await esbuild.build({
  entryPoints: [dist],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "neutral",
  write: false,
});
const minified = min.outputFiles[0].contents;
const sizes = {
  raw: raw.length,
  minified: minified.length,
  minifiedGzip: gzipSync(minified, { level: 9 }).length,
};
console.log(
  `dist/index.js: ${sizes.raw} B raw, ${sizes.minified} B minified, ${sizes.minifiedGzip} B min+gzip`,
);
console.log(JSON.stringify({ bench: "solvers-bundle-size", ...sizes }));
