import { sitGrid, solveDopri5, solveFixedStep, type VelocityField } from "@flowturbo/solvers";

// A velocity field with a known answer: data ~ N(mu, s^2) per element under the linear path
// x_t = t*x1 + (1-t)*x0, so x(1) = mu + s*x(0) exactly.
const mu = 0.5;
const s = 0.3;
const velocity: VelocityField<Float32Array> = (x, t) => {
  const k = (t * s * s - (1 - t)) / (t * t * s * s + (1 - t) ** 2);
  return x.map((xi) => mu + k * (xi - t * mu));
};

const x0 = Float32Array.of(-1, 0, 1, 2); // "noise"
const exact = x0.map((v) => mu + s * v);

const heun = await solveFixedStep(velocity, x0, { method: "heun", grid: sitGrid(11) }); // 10 steps
const dopri = await solveDopri5(velocity, x0); // atol 1e-6, rtol 1e-3 (SiT's), last step ends at t = 1

const maxErr = (x: Float32Array) => Math.max(...x.map((v, i) => Math.abs(v - exact[i])));
console.log("heun  :", heun.nfe, "max error", maxErr(heun.x).toExponential(2));
console.log("dopri5:", dopri.nfe, `${dopri.accepted} accepted, ${dopri.rejected} rejected`);
console.log("dopri5 max error", maxErr(dopri.x).toExponential(2));
