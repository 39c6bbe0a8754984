#!/usr/bin/env node
// Import cycles between files: walks every .ts file under packages/*/src and apps/*/src, follows the
// relative imports and re-exports (`import ... from "./x"`, `export ... from "../y"`, type-only ones
// included: a cycle of types still ties the files together), and lists every group of files that import
// each other in a circle (a strongly connected component of the import graph) with one cycle through it.
// Imports of other packages are not followed (the package graph is turbo's and pnpm's business), nor are
// dynamic `import()` calls (they load lazily, at run time).
//
// Exit status 1 when a cycle is found that KNOWN does not list; a KNOWN entry that no longer matches is
// reported so that it can be deleted. Run: node tools/check-cycles.mjs [--json]; part of `pnpm lint`.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");

/**
 * Cycles left in code that another change owns (by their files, repository-relative), each with why it
 * is tolerated for now. Anything else fails.
 */
/** Cycles tolerated for now, each with why (none: every package is free of import cycles). */
const KNOWN = [];

/** The source roots: packages/*\/src and apps/*\/src. */
export function sourceRoots(root = ROOT) {
  const roots = [];
  for (const group of ["packages", "apps"]) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const src = join(dir, name, "src");
      if (existsSync(src) && statSync(src).isDirectory()) roots.push(src);
    }
  }
  return roots;
}

function tsFiles(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) tsFiles(path, out);
    else if (/\.(ts|tsx|mts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** The relative module specifiers a file imports or re-exports statically. */
export function relativeImports(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const specs = [];
  for (const stmt of source.statements) {
    if (
      (ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) &&
      stmt.moduleSpecifier &&
      ts.isStringLiteral(stmt.moduleSpecifier) &&
      stmt.moduleSpecifier.text.startsWith(".")
    )
      specs.push(stmt.moduleSpecifier.text);
  }
  return specs;
}

/** The file a relative specifier names (TypeScript's rules: x.ts, x.tsx, x/index.ts; ".js" means ".ts"). */
function resolveSpecifier(from, spec) {
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(js|mjs|ts|mts)$/, "");
  for (const candidate of [
    `${stem}.ts`,
    `${stem}.tsx`,
    `${stem}.mts`,
    join(base, "index.ts"),
    join(base, "index.tsx"),
  ])
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return undefined;
}

/** file -> the files it imports (repository-relative paths). */
export function importGraph(root = ROOT) {
  const graph = new Map();
  for (const src of sourceRoots(root))
    for (const file of tsFiles(src)) {
      const deps = new Set();
      for (const spec of relativeImports(file)) {
        const target = resolveSpecifier(file, spec);
        if (target) deps.add(relative(root, target));
      }
      graph.set(relative(root, file), [...deps].sort());
    }
  return graph;
}

/** Strongly connected components with a cycle (Tarjan), each sorted, in a stable order. */
export function cycleGroups(graph) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  const visit = (v) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indices.get(w)));
    }
    if (low.get(v) === indices.get(v)) {
      const group = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) groups.push(group.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);
  return groups.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** One shortest cycle through the group's first file (breadth-first inside the group). */
export function shortestCycle(graph, group) {
  const inGroup = new Set(group);
  const start = group[0];
  const parent = new Map();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!inGroup.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(parent.get(path[0]));
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const sameFiles = (a, b) => a.length === b.length && a.every((f, i) => f === b[i]);

export function checkCycles(root = ROOT, known = KNOWN) {
  const graph = importGraph(root);
  const cycles = cycleGroups(graph).map((files) => {
    const entry = known.find((k) => sameFiles([...k.files].sort(), files));
    return { files, cycle: shortestCycle(graph, files), known: entry?.why };
  });
  const stale = known.filter((k) => !cycles.some((c) => sameFiles([...k.files].sort(), c.files)));
  return { files: graph.size, cycles, stale };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = checkCycles();
  if (process.argv.includes("--json")) console.log(JSON.stringify(report, null, 2));
  else {
    for (const c of report.cycles) {
      console.log(`${c.known ? "known import cycle" : "import cycle"} (${c.files.length} files):`);
      console.log(`  ${c.cycle.join("\n    -> ")}`);
      if (c.files.length > c.cycle.length - 1) console.log(`  all files in it: ${c.files.join(", ")}`);
      if (c.known) console.log(`  tolerated: ${c.known}`);
    }
    for (const k of report.stale)
      console.log(
        `KNOWN lists a cycle that is gone (delete it from tools/check-cycles.mjs): ${k.files.join(", ")}`,
      );
    const fresh = report.cycles.filter((c) => !c.known).length;
    console.log(
      `check-cycles: ${report.files} files, ${report.cycles.length} import cycle(s), ${fresh} not in KNOWN`,
    );
  }
  if (report.cycles.some((c) => !c.known)) process.exitCode = 1;
}
