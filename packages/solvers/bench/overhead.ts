// Solver overhead per step on 8x4x32x32 Float32 latents against a trivial velocity field (a
// preallocated constant: no model cost, so the time is the solver's own vector work, awaits and
// bookkeeping). Prints a table and a final JSON line. Run: pnpm bench
import {
  float32Ops,
  sampleFlowTurbo,
  solveDopri5,
  solveFixedStep,
  solveSde,
  type SolveResult,
} from "../src/index";

const SHAPE = [8, 4, 32, 32];
const N = SHAPE.reduce((a, b) => a * b, 1);
const STEPS = 50;

const x0 = Float32Array.from({ length: N }, (_, i) => Math.sin(i));
const constV = Float32Array.from({ length: N }, (_, i) => Math.cos(i));
const zeros = new Float32Array(N);
const trivial = () => constV;
const trivialRefiner = () => zeros;

interface Row {
  name: string;
  steps: number;
  nfe: number;
  usPerStep: number;
  usPerEval: number;
}

async function measure(name: string, run: () => Promise<SolveResult<Float32Array>>): Promise<Row> {
  for (let i = 0; i < 3; i++) await run(); // warm-up (JIT)
  const reps = 10;
  let best = Number.POSITIVE_INFINITY;
  let last: SolveResult<Float32Array> | undefined;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    last = await run();
    best = Math.min(best, performance.now() - t0);
  }
  const r = last!;
  const nfe = r.nfe.base + r.nfe.refiner;
  return { name, steps: r.steps, nfe, usPerStep: (best * 1000) / r.steps, usPerEval: (best * 1000) / nfe };
}

const guidance = { scale: 4, shape: SHAPE, channels: "sit" } as const;
const rows: Row[] = [];
for (const method of ["euler", "midpoint", "heun", "rk4", "rk4_38"] as const) {
  rows.push(await measure(method, () => solveFixedStep(trivial, x0, { method, steps: STEPS })));
}
rows.push(
  await measure("heun, checkFinite off", () =>
    solveFixedStep(trivial, x0, { method: "heun", steps: STEPS, checkFinite: false }),
  ),
);
rows.push(
  await measure("heun+cfg", () => solveFixedStep(trivial, x0, { method: "heun", steps: STEPS, guidance })),
);
rows.push(await measure(`flowturbo H${STEPS}`, () => sampleFlowTurbo(trivial, x0, { plan: `H${STEPS}` })));
rows.push(
  await measure(`flowturbo H1P${STEPS - 1}`, () => sampleFlowTurbo(trivial, x0, { plan: `H1P${STEPS - 1}` })),
);
rows.push(
  await measure(`flowturbo H1R${STEPS - 1}`, () =>
    sampleFlowTurbo(trivial, x0, { plan: `H1R${STEPS - 1}`, refiner: trivialRefiner }),
  ),
);
rows.push(
  await measure("flowturbo H2P4R2+cfg", () =>
    sampleFlowTurbo(trivial, x0, { plan: "H2P4R2", refiner: trivialRefiner, guidance }),
  ),
);
// dopri5 on the constant field: zero error estimates; ifactor 1 pins the step to 1/STEPS.
rows.push(await measure("dopri5", () => solveDopri5(trivial, x0, { firstStep: 1 / STEPS, ifactor: 1 })));
rows.push(
  await measure("sde (EM)", () => solveSde(trivial, x0, { noise: () => zeros, numSteps: STEPS + 1 })),
);

// Reference: one 2-term linear combination (the unit of solver work) on the same array.
const lc = await measure("lincomb x2 (reference)", async () => {
  for (let i = 0; i < STEPS; i++) float32Ops.lincomb([1, 0.1], [x0, constV]);
  return { x: x0, nfe: { base: STEPS, refiner: 0 }, steps: STEPS };
});

console.log(`solver overhead on ${SHAPE.join("x")} Float32 latents (${N} floats), trivial velocity field`);
console.log(
  `${"solver".padEnd(26)}${"steps".padStart(6)}${"NFE".padStart(6)}${"us/step".padStart(10)}${"us/NFE".padStart(9)}`,
);
for (const r of [...rows, lc]) {
  console.log(
    `${r.name.padEnd(26)}${String(r.steps).padStart(6)}${String(r.nfe).padStart(6)}${r.usPerStep.toFixed(1).padStart(10)}${r.usPerEval.toFixed(1).padStart(9)}`,
  );
}
console.log(
  JSON.stringify({
    bench: "solvers-overhead",
    shape: SHAPE,
    node: process.version,
    lincombUs: Number(lc.usPerStep.toFixed(2)),
    results: rows.map((r) => ({
      ...r,
      usPerStep: Number(r.usPerStep.toFixed(2)),
      usPerEval: Number(r.usPerEval.toFixed(2)),
    })),
  }),
);
