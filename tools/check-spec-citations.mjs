#!/usr/bin/env node
// Checks that docs/FLOWTURBO.md cites what exists: every `path` it names is in the repository, and every
// test it quotes (`file.test.ts: "title"`, `"another title"`) is a test title in that file. Part of
// `pnpm lint`; exit status 1 with a list of the stale citations.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const flat = (text) => text.replace(/\s*\n\s*/g, " ");
const spec = flat(readFileSync(join(root, "docs/FLOWTURBO.md"), "utf8"));
const problems = [];
for (const m of spec.matchAll(/`((?:packages|apps|tools|fixtures|models)\/[^`\s:*]+)`/g))
  if (!existsSync(join(root, m[1]))) problems.push(`no such path: ${m[1]}`);
for (const m of spec.matchAll(/`((?:packages|apps)\/[^`:]+\.ts): "([^"]+)"`((?:,? `"[^"]+"`)*)/g)) {
  const file = join(root, m[1]);
  if (!existsSync(file)) continue; // reported above
  const source = flat(readFileSync(file, "utf8"));
  const titles = [m[2], ...[...m[3].matchAll(/`"([^"]+)"`/g)].map((t) => t[1])];
  for (const title of titles) if (!source.includes(title)) problems.push(`${m[1]} has no test "${title}"`);
}
if (problems.length) {
  console.error(`docs/FLOWTURBO.md cites what does not exist:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("check-spec-citations: every path and test docs/FLOWTURBO.md cites exists");
