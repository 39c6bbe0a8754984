// pnpm test:consumers: uses @flowturbo/solvers, tensor and core as another project would. Packs them
// (with every workspace package they depend on), installs the tarballs into a temporary npm project
// outside the workspace, offline (npm --offline, an empty cache and an unreachable registry: nothing
// but the tarballs), then runs
//   - an ES module script and a CommonJS script against the installed packages,
//   - `tsc --strict` (skipLibCheck off) with module node16, nodenext and bundler resolution, and with
//     lib ES2022 and types [] (no DOM or Node typings), on .mts and .cts consumers,
//   - the solvers README examples, compiled by tsc against the installed types and run by node; each
//     must print what the same example prints from the workspace sources.
// Run after `pnpm build:packages`. KEEP_CONSUMER=1 keeps the temporary project.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import {
  BIN,
  expectSuccess,
  pack,
  publishablePackages,
  ROOT,
  Report,
  requireBuilt,
  run,
  type WorkspacePackage,
} from "./lib";

const TARGETS = ["@flowturbo/solvers", "@flowturbo/tensor", "@flowturbo/core"];
const t0 = performance.now();
const report = new Report("test:consumers");

// The targets and the workspace packages they depend on; nothing from a registry.
const all = new Map(publishablePackages().map((p) => [p.name, p]));
const chosen = new Map<string, WorkspacePackage>();
const add = (name: string) => {
  const p = all.get(name);
  if (!p) throw new Error(`${name} is not a publishable workspace package`);
  if (chosen.has(name)) return;
  chosen.set(name, p);
  for (const dep of Object.keys(p.pkg.dependencies ?? {})) {
    if (!all.has(dep)) throw new Error(`${name} depends on ${dep}, which an offline install cannot provide`);
    add(dep);
  }
};
for (const name of TARGETS) add(name);

const project = realpathSync(mkdtempSync(join(tmpdir(), "flowturbo-consumer-")));
if (!relative(ROOT, project).startsWith("..")) throw new Error(`${project} is inside the workspace`);
console.log(`consumer project: ${project}`);

report.check(`pack ${[...chosen.keys()].join(", ")}`, () => {
  mkdirSync(join(project, "tarballs"));
  for (const p of chosen.values()) {
    requireBuilt(p);
    pack(p, join(project, "tarballs"));
  }
});

report.check("npm install --offline of the tarballs alone", () => {
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify({ name: "consumer", private: true }, null, 2)}\n`,
  );
  const tarballs = readdirSync(join(project, "tarballs")).map((f) => `./tarballs/${f}`);
  const args = ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"];
  args.push("--cache", join(project, "npm-cache"), "--registry", "http://127.0.0.1:9/");
  expectSuccess("npm install", run("npm", [...args, ...tarballs], { cwd: project }));
  return `${tarballs.length} tarballs`;
});

// The same checks from ESM (import) and CommonJS (require).
const runtimeChecks = (load: (name: string) => string) => `
${load("@flowturbo/solvers")}
${load("@flowturbo/tensor")}
${load("@flowturbo/core")}
const assert = (ok, what) => { if (!ok) { throw new Error("check failed: " + what); } };

// solvers: Heun on dx/dt = -x from 1 over [0, 1]; the scheduler gives the same bits.
const v = (x) => x.map((xi) => -xi);
const r = await solvers.solveFixedStep(v, Float32Array.of(1), { method: "heun", steps: 16 });
assert(Math.abs(r.x[0] - Math.exp(-1)) < 1e-3 && r.nfe.base === 32, "heun");
const s = new solvers.FlowMatchScheduler({ method: "heun" });
s.setTimesteps(16);
let x = Float32Array.of(1);
for (const t of s.timesteps) x = s.step(v(x), t, x).prevSample;
assert(x[0] === r.x[0], "scheduler == solveFixedStep");
const nan = await solvers.solveFixedStep(() => Float32Array.of(NaN), Float32Array.of(0), { method: "euler", steps: 1 }).catch((e) => e);
assert(nan instanceof solvers.NonFiniteError, "NonFiniteError");

// tensor + core: a toy graph through the reference backend (core's Backend contract), driven by a solver.
const g = new tensor.Graph("toy");
const gx = g.input("x", "float32", [2, 4]);
g.output("v", tensor.op.neg(gx));
const session = await core.createReferenceBackend().load({ graph: g });
const field = async (x) => (await core.toHost((await session.run({ x: new tensor.Tensor("float32", [2, 4], x) })).v)).data;
const out = await solvers.solveFixedStep(field, new Float32Array(8).fill(1), { method: "heun", steps: 4 });
// Heun on dx/dt = -x: x(1) = (1 - h + h^2/2)^4 with h = 1/4
assert(Math.abs(out.x[0] - (1 - 0.25 + 0.25 ** 2 / 2) ** 4) < 1e-6 && out.nfe.base === 8, "core session as a velocity field");
const y = (await session.run({ x: tensor.Tensor.from("float32", [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]) })).v;
assert(y instanceof tensor.Tensor, "one Tensor class across tensor and core");
`;

const esm = `import * as solvers from "@flowturbo/solvers";
import * as tensor from "@flowturbo/tensor";
import * as core from "@flowturbo/core";
import * as tensorNode from "@flowturbo/tensor/node";
${runtimeChecks(() => "")}
if (typeof tensorNode.fileSource !== "function") throw new Error("@flowturbo/tensor/node");
console.log("esm ok", import.meta.resolve("@flowturbo/solvers").replace(/^.*node_modules/, ""));
`;
const cjs = `const solvers = require("@flowturbo/solvers");
const tensor = require("@flowturbo/tensor");
const core = require("@flowturbo/core");
const tensorNode = require("@flowturbo/tensor/node");
(async () => {
${runtimeChecks(() => "")}
if (typeof tensorNode.fileSource !== "function") throw new Error("@flowturbo/tensor/node");
console.log("cjs ok", require.resolve("@flowturbo/solvers").replace(/^.*node_modules/, ""));
})().catch((e) => { console.error(e); process.exit(1); });
`;

report.check("ES module script (import)", () => {
  writeFileSync(join(project, "esm.mjs"), esm);
  const r = expectSuccess("node esm.mjs", run("node", ["esm.mjs"], { cwd: project }));
  if (!r.stdout.includes("esm ok /@flowturbo/solvers/dist/index.js")) throw new Error(r.stdout);
  return r.stdout.trim();
});

report.check("CommonJS script (require)", () => {
  writeFileSync(join(project, "cjs.cjs"), cjs);
  const r = expectSuccess("node cjs.cjs", run("node", ["cjs.cjs"], { cwd: project }));
  if (!r.stdout.includes("cjs ok /@flowturbo/solvers/dist/index.cjs")) throw new Error(r.stdout);
  return r.stdout.trim();
});

// TypeScript consumers: the same code as .mts (ESM) and .cts (CommonJS under node16/nodenext).
const consumerTs = `import {
  classifierFreeGuidance,
  FlowMatchScheduler,
  NonFiniteError,
  type SolveResult,
  solveDopri5,
  solveFixedStep,
  type VectorOps,
  type VelocityField,
} from "@flowturbo/solvers";
import { Graph, op, Tensor } from "@flowturbo/tensor";
import { type Backend, createReferenceBackend, type Session } from "@flowturbo/core";

const v: VelocityField<Float32Array> = (x) => x.map((xi) => -xi);
export const fixed: Promise<SolveResult<Float32Array>> = solveFixedStep(v, new Float32Array(4), {
  method: "heun",
  steps: 4,
});
const arrayOps: VectorOps<number[]> = {
  lincomb: (c, xs) => xs[0].map((_, i) => xs.reduce((s, x, j) => s + c[j] * x[i], 0)),
  scaledRms: () => 0,
};
// @ts-expect-error: a number[] state needs ops
export const noOps = solveFixedStep((x: number[]) => x, [1], { method: "euler", steps: 1 });
export const withOps: Promise<{ x: number[] }> = solveDopri5((x: number[]) => x, [1], { ops: arrayOps });
// @ts-expect-error: guidance channels are required
export const noChannels = classifierFreeGuidance(v, { scale: 2, shape: [1, 4] });
export const guided: VelocityField<Float32Array> = classifierFreeGuidance(v, {
  scale: 2,
  shape: [1, 4],
  channels: "all",
  order: "unconditional-first",
});
export const dense = solveDopri5(v, new Float32Array(2), { outputTimes: [0, 0.5, 1] }).then((r) => r.outputs);
export const scheduler: FlowMatchScheduler<Float32Array> = new FlowMatchScheduler({ method: "rk4" });
export const t: Tensor = new Tensor("float32", [2], Float32Array.of(1, 2));
export const graph = (g: Graph) => op.neg(g.input("x", "float32", [1]));
export const backend: Backend = createReferenceBackend();
export const load = (g: Graph): Promise<Session> => backend.load({ graph: g });
export { NonFiniteError };
`;
// With DOM typings the models get a real AbortSignal to hand on.
const domTs = `import { solveFixedStep, type VelocityField } from "@flowturbo/solvers";
const v: VelocityField<Float32Array> = (x, _t, ctx) => {
  const signal: AbortSignal | undefined = ctx.signal;
  return signal?.aborted ? x : x.map((xi) => -xi);
};
export const run = solveFixedStep(v, new Float32Array(1), {
  method: "euler",
  steps: 2,
  signal: new AbortController().signal,
});
`;

const tsc = join(BIN, "tsc");
const configs: [string, Record<string, unknown>, string[]][] = [
  [
    "node16",
    { module: "node16", moduleResolution: "node16", lib: ["ES2022", "DOM"] },
    ["consumer.mts", "consumer.cts", "dom.mts"],
  ],
  [
    "nodenext",
    { module: "nodenext", moduleResolution: "nodenext", lib: ["ES2022", "DOM"] },
    ["consumer.mts", "consumer.cts", "dom.mts"],
  ],
  [
    "bundler",
    { module: "esnext", moduleResolution: "bundler", lib: ["ES2022", "DOM"] },
    ["consumer.ts", "dom.ts"],
  ],
  [
    "ES2022, types []",
    { module: "nodenext", moduleResolution: "nodenext", lib: ["ES2022"] },
    ["consumer.mts", "consumer.cts"],
  ],
];
mkdirSync(join(project, "ts"));
for (const ext of ["mts", "cts", "ts"]) writeFileSync(join(project, "ts", `consumer.${ext}`), consumerTs);
for (const ext of ["mts", "ts"]) writeFileSync(join(project, "ts", `dom.${ext}`), domTs);
for (const [name, options, files] of configs) {
  report.check(`tsc --strict, ${name}`, () => {
    const config = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
        target: "ES2022",
        ...options,
      },
      files,
    };
    const file = join(project, "ts", `tsconfig.${name.replace(/\W+/g, "-")}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    expectSuccess(`tsc -p ${basename(file)}`, run(tsc, ["-p", file], { cwd: project }));
    return files.join(", ");
  });
}

// The solvers README examples, from the installed tarball, against what they print from source.
const examplesDir = join(ROOT, "packages", "solvers", "examples");
const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".ts"));
report.check(
  `tsc compiles the ${examples.length} solvers README examples against the installed types`,
  () => {
    const dir = join(project, "examples");
    mkdirSync(dir);
    for (const f of examples) cpSync(join(examplesDir, f), join(dir, f.replace(/\.ts$/, ".mts")));
    const config = {
      compilerOptions: {
        strict: true,
        skipLibCheck: false,
        types: [],
        target: "ES2022",
        module: "nodenext",
        lib: ["ES2022", "DOM"],
        rootDir: ".",
        outDir: "../examples-out",
      },
      include: ["*.mts"],
    };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config, null, 2));
    expectSuccess("tsc (examples)", run(tsc, ["-p", dir], { cwd: project }));
  },
);
for (const f of examples) {
  report.check(`README example ${f} runs from the tarball and prints what it prints from source`, () => {
    const installed = expectSuccess(
      f,
      run("node", [join(project, "examples-out", f.replace(/\.ts$/, ".mjs"))], { cwd: project }),
    );
    const source = expectSuccess(
      `${f} from source`,
      run("node", ["--conditions=@flowturbo/source", "--import", "tsx", join("examples", f)], {
        cwd: join(ROOT, "packages", "solvers"),
      }),
    );
    if (installed.stdout.trim() === "") throw new Error("printed nothing");
    if (installed.stdout !== source.stdout) {
      throw new Error(`from the tarball:\n${installed.stdout}\nfrom source:\n${source.stdout}`);
    }
    return installed.stdout.trim().split("\n").at(-1);
  });
}

if (process.env.KEEP_CONSUMER) console.log(`kept ${project}`);
else rmSync(project, { recursive: true, force: true });
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(report.finish());
