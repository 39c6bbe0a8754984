// pnpm check:packages: packs every publishable package as `pnpm publish` would and checks each
// tarball: its manifest (no workspace-only source condition, no workspace: ranges), its files
// (LICENSE, README, CHANGELOG, no sources), publint (strict: no errors, warnings or suggestions) and
// "are the types wrong" (import and require under TypeScript's node16/nodenext, and bundler; node10,
// which predates exports maps, is not checked).
// Run after `pnpm build:packages`.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import {
  BIN,
  expectSuccess,
  exportTargets,
  type PackageJson,
  pack,
  publishablePackages,
  ROOT,
  Report,
  requireBuilt,
  run,
} from "./lib";

const packages = publishablePackages();
const dest = mkdtempSync(join(tmpdir(), "flowturbo-packs-"));
const report = new Report("check:packages");
const license = readFileSync(join(ROOT, "LICENSE"), "utf8");
const t0 = performance.now();
console.log(`packing ${packages.length} packages into ${dest}`);

for (const p of packages) {
  let tarball = "";
  report.check(`${p.name}: builds and packs`, () => {
    requireBuilt(p);
    tarball = pack(p, dest);
    return tarball.slice(dest.length + 1);
  });
  if (!tarball) continue;

  report.check(`${p.name}: manifest and files`, () => {
    const manifestText = expectSuccess("tar", run("tar", ["-xzOf", tarball, "package/package.json"])).stdout;
    const manifest = JSON.parse(manifestText) as PackageJson;
    const problems: string[] = [];
    const { exports, main, module, types, dependencies, peerDependencies, optionalDependencies } =
      manifest as PackageJson & Record<string, unknown>;
    if (JSON.stringify({ exports, main, module, types }).includes("@flowturbo/source")) {
      problems.push("the exports keep the @flowturbo/source condition");
    }
    if (JSON.stringify([dependencies, peerDependencies, optionalDependencies]).includes("workspace:")) {
      problems.push("a workspace: range is left");
    }
    for (const target of exportTargets(manifest.exports)) {
      if (target.startsWith("./src/")) problems.push(`export target ${target} points into src/`);
    }
    const files = expectSuccess("tar", run("tar", ["-tzf", tarball])).stdout.split("\n");
    for (const f of ["LICENSE", "README.md", "CHANGELOG.md", "package.json"]) {
      if (!files.includes(`package/${f}`)) problems.push(`${f} is missing`);
    }
    for (const target of exportTargets(manifest.exports)) {
      if (!files.includes(`package/${target.replace(/^\.\//, "")}`))
        problems.push(`${target} is not in the tarball`);
    }
    if (files.some((f) => f.startsWith("package/src/"))) problems.push("sources (src/) are in the tarball");
    const packedLicense = run("tar", ["-xzOf", tarball, "package/LICENSE"]).stdout;
    if (packedLicense !== license) problems.push("LICENSE differs from the repository's");
    if (problems.length > 0) throw new Error(problems.join("\n"));
    return `${files.filter(Boolean).length} files`;
  });

  report.check(`${p.name}: publint --strict`, () => {
    const r = expectSuccess("publint", run(join(BIN, "publint"), ["run", tarball, "--strict"]));
    if (!r.stdout.includes("All good!")) throw new Error(r.stdout);
  });

  report.check(`${p.name}: are the types wrong (node16 from CJS and ESM, bundler)`, () => {
    // Assets exported for bundlers (e.g. an .npz file) are not modules: leave them out.
    const assets = Object.entries(p.pkg.publishConfig?.exports ?? {})
      .filter(
        ([, target]) =>
          typeof target === "string" && ![".js", ".cjs", ".mjs", ".json"].includes(extname(target)),
      )
      .map(([subpath]) => subpath);
    const args = [tarball, "--profile", "node16", "--format", "ascii", "--no-color", "--no-emoji"];
    if (assets.length > 0) args.push("--exclude-entrypoints", ...assets);
    // attw exits non-zero on any problem in these resolutions (node10, which ignores exports maps,
    // is left out by the node16 profile).
    expectSuccess("attw", run(join(BIN, "attw"), args));
    return assets.length > 0 ? `assets left out: ${assets.join(", ")}` : undefined;
  });
}

rmSync(dest, { recursive: true, force: true });
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(report.finish());
