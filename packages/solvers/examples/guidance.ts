import { classifierFreeGuidance, solveFixedStep, type VelocityField } from "@flowturbo/solvers";

// Classifier-free guidance as a velocity-field wrapper: the state holds one row per sample, the model
// sees a doubled batch. Here B = 2 samples of a 16-channel 4x4 latent and a diffusers-style model
// whose batch is cat[unconditional, conditional].
const B = 2;
const shape = [B, 16, 4, 4];
const rowSize = 16 * 4 * 4;
const model: VelocityField<Float32Array> = (x, t) =>
  x.map((v, i) => (i < B * rowSize ? -v : 1 - v) * (1 - t)); // unconditional rows first, then conditional

const velocity = classifierFreeGuidance(model, {
  scale: 4,
  shape, // the state's layout (undoubled)
  channels: "all", // standard CFG; "sit" guides channels 0..2 only (SiT/DiT/FlowTurbo latents)
  order: "unconditional-first", // diffusers' batch order; "conditional-first" is SiT's
});
const z = new Float32Array(B * rowSize); // start at 0 for a readable answer
const r = await solveFixedStep(velocity, z, { method: "heun", steps: 8 });
// Guided: dx/dt = u + 4 (c - u) = (4 - x)(1 - t), so x(1) = 4 - 4/sqrt(e) = 1.5739 exactly.
console.log(r.x.length, "values,", r.nfe.base, "batched model calls, x[0] =", r.x[0].toFixed(4));
