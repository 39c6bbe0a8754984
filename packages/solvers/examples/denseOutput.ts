import { solveDopri5, type VelocityField } from "@flowturbo/solvers";

// Dense output, as torchdiffeq's odeint(func, y0, t): the solution at requested times. The flow to
// data ~ N(0.5, 0.3^2) is linear, with the closed form x(t) = 0.5 t + sqrt(0.09 t^2 + (1 - t)^2) x(0).
const sigma = (t: number) => Math.sqrt(0.09 * t * t + (1 - t) ** 2);
const velocity: VelocityField<Float64Array> = (x, t) =>
  x.map((xi) => 0.5 + ((0.09 * t - (1 - t)) / sigma(t) ** 2) * (xi - 0.5 * t));

const x0 = Float64Array.of(-1.5, 0, 0.8);
const outputTimes = [0, 0.25, 0.5, 0.75, 1];
const r = await solveDopri5(velocity, x0, { outputTimes, atol: 1e-9, rtol: 1e-7 });

outputTimes.forEach((t, i) => {
  const err = Math.max(...r.outputs![i].map((v, j) => Math.abs(v - (0.5 * t + sigma(t) * x0[j]))));
  console.log(`t=${t.toFixed(2)} max error ${err.toExponential(1)}`);
});
console.log(`${r.accepted} steps, ${r.nfe.base} evaluations`);
