// A small deterministic Gaussian generator for tests (the package itself has no RNG): a 32-bit
// counter hash (the golden README's mixer) feeding Box–Muller.

function hash32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Standard normal values for (seed, step), `n` of them, reproducible. */
export function gaussians(seed: number, step: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const base = Math.imul(seed + 1, 0x9e3779b9) + Math.imul(step + 1, 0x85ebca6b);
  for (let i = 0; i < n; i += 2) {
    const u1 = (hash32(base + 2 * i) + 1) / 4294967297; // (0, 1)
    const u2 = hash32(base + 2 * i + 1) / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** A NoiseSource for Float64Array states. */
export const noiseSource =
  (seed: number) =>
  (step: number, like: Float64Array): Float64Array =>
    gaussians(seed, step, like.length);
