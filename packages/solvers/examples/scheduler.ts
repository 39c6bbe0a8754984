import { FlowMatchScheduler, solveFixedStep } from "@flowturbo/solvers";

// A pipeline that owns its loop (diffusers style): the scheduler says when to call the model and
// turns each output into the next sample. Flow convention: t = 0 noise, t = 1 data, output = velocity.
const model = async (x: Float32Array, t: number) => x.map((v) => Math.sin(v + t) - v);
const noise = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i));

const scheduler = new FlowMatchScheduler({ method: "heun" }); // "euler" (default), "midpoint", "rk4", ...
scheduler.setTimesteps(10, { shift: 3 }); // 10 steps, diffusers' timestep shift
let x: Float32Array = noise;
for (const t of scheduler.timesteps) {
  const v = await model(x, t);
  x = scheduler.step(v, t, x).prevSample;
}
console.log(scheduler.timesteps.length, "model calls,", scheduler.stepIndex, "steps");

// The same steps through the functional API give the same bits.
const same = await solveFixedStep(model, noise, { method: "heun", grid: scheduler.grid });
console.log(
  "identical to solveFixedStep:",
  same.x.every((v, i) => Object.is(v, x[i])),
);
