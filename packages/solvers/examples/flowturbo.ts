import {
  doubleBatch,
  firstHalf,
  type RefinerField,
  sampleFlowTurbo,
  type VelocityField,
} from "@flowturbo/solvers";

// Stand-ins for the SiT network and the velocity refiner, both run on the doubled batch
// [2B, C, H, W] = [4, 4, 8, 8] with labels cat[labels, null] baked in. Real models plug in the same way.
const shape = [4, 4, 8, 8];
const half = (4 * 4 * 8 * 8) / 2;
const sit: VelocityField<Float32Array> = async (x, t) =>
  x.map((v, i) => (i < half ? 1.0 : 0.8) * Math.tanh(v) * (1 - t) + 0.1); // cond / uncond halves
const refiner: RefinerField<Float32Array> = async (_x, _t, v) => v.map((vi) => -0.01 * vi); // delta v

const z = Float32Array.from({ length: half }, (_, i) => Math.sin(i)); // the noise, B = 2 samples
const controller = new AbortController();

const result = await sampleFlowTurbo(sit, doubleBatch(z), {
  plan: "H1P5R3", // 9 steps: Heun, 5 pseudo-corrector steps, 3 refiner steps
  refiner,
  guidance: { scale: 1.5, shape, channels: "sit" }, // SiT's 3-channel CFG; "all" for standard CFG
  signal: controller.signal, // controller.abort() stops before the next network call
  onStep: ({ step, t, nfe, block }) => console.log(`step ${step} (${block}) t=${t.toFixed(3)} nfe`, nfe),
});
const samples = firstHalf(result.x); // [2, 4, 8, 8] latents for the VAE decoder
console.log(result.nfe, samples.length); // { base: 7, refiner: 6 } 512
