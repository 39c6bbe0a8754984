// Philox4x32 (Salmon, Moraes, Dror, Shaw: "Parallel Random Numbers: As Easy as 1, 2, 3", SC11), exactly as
// Random123's philox.h: the same constants, round function and key schedule, so its known-answer vectors
// (tests/kat_vectors) hold. Pure 32-bit integer arithmetic: Math.imul for the low half of each 32x32 product,
// 16-bit limbs (exact in float64) for the high half. No BigInt.

/** Philox4x32 round multipliers (Random123 PHILOX_M4x32_0/1). */
export const PHILOX_M4X32_0 = 0xd2511f53;
export const PHILOX_M4X32_1 = 0xcd9e8d57;
/** Philox4x32 key-schedule increments (Random123 PHILOX_W32_0/1: golden ratio, sqrt(3)-1). */
export const PHILOX_W32_0 = 0x9e3779b9;
export const PHILOX_W32_1 = 0xbb67ae85;

const M0_HI = PHILOX_M4X32_0 >>> 16;
const M0_LO = PHILOX_M4X32_0 & 0xffff;
const M1_HI = PHILOX_M4X32_1 >>> 16;
const M1_LO = PHILOX_M4X32_1 & 0xffff;

/** High 32 bits of the exact 64-bit product of two uint32 values (as a uint32 number). */
export function mulhi32(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  const ah = a >>> 16;
  const al = a & 0xffff;
  const bh = b >>> 16;
  const bl = b & 0xffff;
  // Every partial product is < 2^32 and `mid` < 2^34: all exact in float64.
  const mid = ah * bl + al * bh + ((al * bl) >>> 16);
  return (ah * bh + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Philox4x32-R block function, writing the 4 output words to `out[offset..offset+3]`.
 * Counter words c0..c3 and key words k0, k1 are uint32 values (taken modulo 2^32).
 */
export function philox4x32Into(
  out: Uint32Array,
  offset: number,
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  rounds = 10,
): void {
  c0 >>>= 0;
  c1 >>>= 0;
  c2 >>>= 0;
  c3 >>>= 0;
  k0 >>>= 0;
  k1 >>>= 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W32_0) >>> 0;
      k1 = (k1 + PHILOX_W32_1) >>> 0;
    }
    // (hi0, lo0) = M0 * c0 ; (hi1, lo1) = M1 * c2
    const a0h = c0 >>> 16;
    const a0l = c0 & 0xffff;
    const mid0 = a0h * M0_LO + a0l * M0_HI + ((a0l * M0_LO) >>> 16);
    const hi0 = a0h * M0_HI + Math.floor(mid0 / 65536);
    const lo0 = Math.imul(c0, PHILOX_M4X32_0) >>> 0;
    const a2h = c2 >>> 16;
    const a2l = c2 & 0xffff;
    const mid1 = a2h * M1_LO + a2l * M1_HI + ((a2l * M1_LO) >>> 16);
    const hi1 = a2h * M1_HI + Math.floor(mid1 / 65536);
    const lo1 = Math.imul(c2, PHILOX_M4X32_1) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[offset] = c0;
  out[offset + 1] = c1;
  out[offset + 2] = c2;
  out[offset + 3] = c3;
}

/**
 * Philox4x32-R of one counter block: `ctr` = 4 uint32 words, `key` = 2 uint32 words, default 10 rounds
 * (Philox4x32-10, the Random123 / JAX / cuRAND / PyTorch-CUDA generator). Returns the 4 output words.
 */
export function philox4x32(ctr: ArrayLike<number>, key: ArrayLike<number>, rounds = 10): Uint32Array {
  if (ctr.length !== 4 || key.length !== 2)
    throw new Error("philox4x32 needs a 4-word counter and a 2-word key");
  if (!Number.isInteger(rounds) || rounds < 0 || rounds > 16)
    throw new Error(`philox4x32: bad rounds ${rounds}`);
  const out = new Uint32Array(4);
  philox4x32Into(out, 0, ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], rounds);
  return out;
}
