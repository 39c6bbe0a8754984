// Procedural weights: the deterministic, language-independent tensors that the project's golden vectors
// were generated with (see the golden set's README, "Procedural weights"). Bit-exact with the reference.

import { assertShape, numel, type Shape } from "../shape";
import { Tensor } from "../tensor";

const utf8 = new TextEncoder();

/** FNV-1a 32-bit hash of the UTF-8 bytes of `text` (offset basis 0x811C9DC5, prime 0x01000193). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of utf8.encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** One row of a golden case's `procedural_rules` table. */
export interface ProceduralRule {
  name: string;
  shape: Shape;
  scale: number;
  offset: number;
}

/**
 * The `n` procedural values of tensor `name`: h = fnv1a32(name); for element i (row-major),
 * z = h + i*0x9E3779B9 (mod 2^32), then the murmur3-style finalizer
 * z ^= z>>>16; z *= 0x85EBCA6B; z ^= z>>>13; z *= 0xC2B2AE35; z ^= z>>>16 (all mod 2^32),
 * u = z/2^32 and value = float32(scale*(2u - 1) + offset) evaluated in float64.
 */
export function proceduralValues(name: string, n: number, scale: number, offset = 0): Float32Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`proceduralValues: bad element count ${n}`);
  const out = new Float32Array(n);
  const h = fnv1a32(name);
  for (let i = 0; i < n; i++) {
    // i*0x9E3779B9 mod 2^32 via Math.imul (ToInt32(i) = i mod 2^32, which is all the product needs)
    let z = (h + Math.imul(i, 0x9e3779b9)) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    const u = z / 4294967296;
    out[i] = scale * (2 * u - 1) + offset; // float64 expression, rounded to nearest float32 by the store
  }
  return out;
}

/** A float32 tensor of the given shape filled with {@link proceduralValues}. */
export function proceduralTensor(name: string, shape: Shape, scale: number, offset = 0): Tensor<"float32"> {
  assertShape(shape, `procedural tensor '${name}'`);
  return new Tensor("float32", shape, proceduralValues(name, numel(shape), scale, offset));
}

/** Builds every tensor of a rule table (e.g. a golden case's `procedural_rules`), keyed by name, in order. */
export function proceduralStateDict(rules: readonly ProceduralRule[]): Map<string, Tensor<"float32">> {
  const out = new Map<string, Tensor<"float32">>();
  for (const rule of rules) {
    if (out.has(rule.name)) throw new Error(`proceduralStateDict: duplicate tensor name '${rule.name}'`);
    out.set(rule.name, proceduralTensor(rule.name, rule.shape, rule.scale, rule.offset ?? 0));
  }
  return out;
}
