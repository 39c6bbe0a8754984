import { solveSde, type VelocityField } from "@flowturbo/solvers";

// Noise comes from the caller: plug the project's counter-based RNG in here (keyed by seed, counter
// = step). This stand-in hashes (step, index) into uniforms and uses Box–Muller.
const hash = (n: number) => {
  let z = Math.imul(n ^ (n >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
};
const noise = (step: number, like: Float32Array) =>
  like.map((_, i) => {
    const u1 = hash(step * 7919 + 2 * i + 1) || 1e-12;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * hash(step * 7919 + 2 * i + 2));
  });

// Data ~ N(0.5, 0.3^2) per element (the quickstart's field).
const velocity: VelocityField<Float32Array> = (x, t) => {
  const k = (t * 0.09 - (1 - t)) / (t * t * 0.09 + (1 - t) ** 2);
  return x.map((xi) => 0.5 + k * (xi - t * 0.5));
};
const x0 = noise(1_000_000, new Float32Array(10_000)); // a counter no step uses

// SiT's defaults: linspace(0, 0.96, 250), diffusion w = 1 - t, a final noiseless "mean" step of 0.04.
const r = await solveSde(velocity, x0, { noise });
const mean = r.x.reduce((a, b) => a + b, 0) / r.x.length;
const std = Math.sqrt(r.x.reduce((a, b) => a + (b - mean) ** 2, 0) / r.x.length);
console.log(r.nfe.base, "evaluations; sample mean", mean.toFixed(3), "std", std.toFixed(3)); // ~0.5, ~0.3
