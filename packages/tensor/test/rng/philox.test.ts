import { describe, expect, it } from "vitest";
import { mulhi32, philox4x32, philox4x32Into } from "../../src/rng/index";

// Random123 known-answer vectors: DEShawResearch/random123 tests/kat_vectors (commit 9545ff6), lines
// "philox4x32 R CTR[4] KEY[2] EXPECTED[4]" (counter 0/key 0, all-ones, and the digits-of-pi vector).
const KAT = `
philox4x32 7 00000000 00000000 00000000 00000000 00000000 00000000   5f6fb709 0d893f64 4f121f81 4f730a48
philox4x32 7 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff   5207ddc2 45165e59 4d8ee751 8c52f662
philox4x32 7 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0   4dfccaba 190a87f0 c47362ba b6b5242a
philox4x32 10 00000000 00000000 00000000 00000000 00000000 00000000   6627e8d5 e169c58d bc57ac4c 9b00dbd8
philox4x32 10 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff   408f276d 41c83b0e a20bc7c6 6d5451fd
philox4x32 10 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0   d16cfe09 94fdcceb 5001e420 24126ea1
`;

const M = (1n << 32n) - 1n;

/** Slow BigInt reference straight from Random123's philox.h (independent of the 16-bit-limb fast path). */
function philoxRef(ctr: number[], key: number[], rounds: number): number[] {
  let c = ctr.map(BigInt);
  let k = key.map(BigInt);
  for (let r = 0; r < rounds; r++) {
    if (r > 0) k = [(k[0] + 0x9e3779b9n) & M, (k[1] + 0xbb67ae85n) & M];
    const p0 = 0xd2511f53n * c[0];
    const p1 = 0xcd9e8d57n * c[2];
    c = [((p1 >> 32n) ^ c[1] ^ k[0]) & M, p1 & M, ((p0 >> 32n) ^ c[3] ^ k[1]) & M, p0 & M];
  }
  return c.map(Number);
}

/** Deterministic uint32 source for the cross-checks (xorshift32). */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

describe("philox4x32", () => {
  const rows = KAT.trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/));
  it.each(rows)("Random123 KAT %s-%s %s %s %s %s / %s %s", (_name, rounds, ...rest) => {
    const v = rest.map((x) => Number.parseInt(x, 16));
    const out = philox4x32(v.slice(0, 4), v.slice(4, 6), Number(rounds));
    expect([...out]).toEqual(v.slice(6, 10));
    expect(philoxRef(v.slice(0, 4), v.slice(4, 6), Number(rounds))).toEqual(v.slice(6, 10));
  });

  it("defaults to 10 rounds and writes into a buffer at an offset", () => {
    const buf = new Uint32Array(6);
    philox4x32Into(buf, 2, 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0);
    expect([...buf]).toEqual([0, 0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
    expect([...philox4x32([0, 0, 0, 0], [0, 0])]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  });

  it("matches the BigInt reference on random counters and keys", () => {
    const next = xorshift(2024);
    for (let t = 0; t < 2000; t++) {
      const ctr = [next(), next(), next(), next()];
      const key = [next(), next()];
      const rounds = t % 50 === 0 ? 1 + (t % 16) : 10;
      expect([...philox4x32(ctr, key, rounds)]).toEqual(philoxRef(ctr, key, rounds));
    }
  });

  it("rejects malformed arguments", () => {
    expect(() => philox4x32([0, 0, 0], [0, 0])).toThrow();
    expect(() => philox4x32([0, 0, 0, 0], [0, 0], 17)).toThrow();
  });
});

describe("mulhi32", () => {
  it("is the exact high word of the 64-bit product", () => {
    const next = xorshift(77);
    const edge = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xd2511f53];
    const pairs: [number, number][] = [];
    for (const a of edge) for (const b of edge) pairs.push([a, b]);
    for (let t = 0; t < 5000; t++) pairs.push([next(), next()]);
    for (const [a, b] of pairs) expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
  });
});
