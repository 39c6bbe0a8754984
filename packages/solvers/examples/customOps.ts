import { solveFixedStep, type VectorOps } from "@flowturbo/solvers";

// Any array type works through VectorOps: here plain number[]; a GPU tensor type would implement
// lincomb (and scaledRms for dopri5) with device kernels, plus GuidanceOps for CFG.
const arrayOps: VectorOps<number[]> = {
  lincomb: (c, xs) => xs[0].map((_, i) => xs.reduce((sum, x, j) => sum + c[j] * x[i], 0)),
  scaledRms: (x, a, b, atol, rtol) =>
    Math.sqrt(
      x.reduce((sum, xi, i) => {
        const scale = atol + rtol * Math.max(Math.abs(a[i]), b ? Math.abs(b[i]) : 0);
        return sum + (xi / scale) ** 2;
      }, 0) / x.length,
    ),
};

const r = await solveFixedStep((x: number[]) => x.map((v) => 1 - v), [0, 2], {
  method: "rk4",
  steps: 8,
  ops: arrayOps,
});
console.log(r.x); // both approach 1 - (1 - x0) e^{-1}: [0.632..., 1.367...]
