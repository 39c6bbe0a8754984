import { readFileSync } from "node:fs";
import { goldenPath } from "@flowturbo/test-support";
import { describe, expect, it } from "vitest";
import {
  fnv1a32,
  type ProceduralRule,
  proceduralStateDict,
  proceduralTensor,
  proceduralValues,
} from "../../src/index";

interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Minimal safetensors parse: u64 LE header length, JSON header, raw little-endian data (test-only). */
function readSafetensors(path: string): Map<string, RawTensor> {
  const file = new Uint8Array(readFileSync(path));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLen)));
  const out = new Map<string, RawTensor>();
  for (const [name, info] of Object.entries<{
    dtype: string;
    shape: number[];
    data_offsets: [number, number];
  }>(header)) {
    if (name === "__metadata__") continue;
    const [begin, end] = info.data_offsets;
    out.set(name, {
      dtype: info.dtype,
      shape: info.shape,
      bytes: file.slice(8 + headerLen + begin, 8 + headerLen + end),
    });
  }
  return out;
}

/** float32 payload as uint32 bit patterns (bit-exact comparison, -0 and NaN payloads included). */
function f32Bits(t: RawTensor): Uint32Array {
  expect(t.dtype).toBe("F32");
  return new Uint32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4);
}
const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe("fnv1a32", () => {
  it("matches the published FNV-1a 32-bit test values", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("hashes UTF-8 bytes", () => {
    // "é" is C3 A9 in UTF-8
    let h = 0x811c9dc5;
    for (const b of [0xc3, 0xa9]) h = Number((BigInt((h ^ b) >>> 0) * 0x01000193n) & 0xffffffffn);
    expect(fnv1a32("é")).toBe(h);
  });
});

describe("procedural tensors", () => {
  it("follows the formula element by element (BigInt reference)", () => {
    const name = "blocks.0.attn.qkv.weight";
    const values = proceduralValues(name, 3000, 0.25, -0.5);
    const M = 0xffffffffn;
    const h = BigInt(fnv1a32(name));
    for (let i = 0; i < values.length; i++) {
      let z = (h + BigInt(i) * 0x9e3779b9n) & M;
      z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M;
      z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M;
      z = z ^ (z >> 16n);
      const u = Number(z) / 2 ** 32;
      expect(values[i]).toBe(Math.fround(0.25 * (2 * u - 1) - 0.5));
    }
  });

  it("has the right shape, range and determinism", () => {
    const t = proceduralTensor("w", [3, 4], 2, 1);
    expect(t.dtype).toBe("float32");
    expect(t.shape).toEqual([3, 4]);
    for (const v of t.data) expect(v >= -1 && v <= 3).toBe(true);
    expect(proceduralTensor("w", [12], 2, 1).data).toEqual(t.data);
    expect(proceduralTensor("w2", [12], 2, 1).data).not.toEqual(t.data);
    expect(() => proceduralStateDict([rule("a", [1]), rule("a", [2])])).toThrow();
  });
});

function rule(name: string, shape: number[], scale = 1, offset = 0): ProceduralRule {
  return { name, shape, scale, offset };
}

describe("golden SiT weights (bit-exact)", () => {
  const caseJson = JSON.parse(readFileSync(goldenPath("sit/sit_forward/case.json"), "utf8")) as {
    procedural_rules: ProceduralRule[];
  };
  const weights = readSafetensors(goldenPath("sit/sit.safetensors"));

  it("every tensor but pos_embed is the procedural tensor of its rule", () => {
    const rules = caseJson.procedural_rules;
    expect(rules.length).toBe(31);
    const dict = proceduralStateDict(rules);
    expect([...dict.keys()]).toEqual(rules.map((r) => r.name));
    expect(new Set([...weights.keys()])).toEqual(new Set([...dict.keys(), "pos_embed"]));
    let elements = 0;
    for (const [name, tensor] of dict) {
      const ref = weights.get(name)!;
      expect(tensor.shape, name).toEqual(ref.shape);
      const got = bitsOf(tensor.data);
      const want = f32Bits(ref);
      let mismatches = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
      expect(mismatches, `${name}: elements differing from the golden weights`).toBe(0);
      elements += want.length;
    }
    expect(elements).toBe(245_536); // all 246,560 floats of the file but the 1,024 of pos_embed
  });

  it("pos_embed is not procedural", () => {
    const ref = weights.get("pos_embed")!;
    const p = proceduralTensor("pos_embed", ref.shape, 1, 0);
    expect(bitsOf(p.data)).not.toEqual(f32Bits(ref));
  });

  it("the case input x is procedural('input/sit/x', scale 1) and cfg_x repeats x[0]", () => {
    const c = readSafetensors(goldenPath("sit/sit_forward/case.safetensors"));
    const x = c.get("x")!;
    expect(x.shape).toEqual([3, 4, 8, 8]);
    expect(bitsOf(proceduralTensor("input/sit/x", x.shape, 1, 0).data)).toEqual(f32Bits(x));
    const cfgX = f32Bits(c.get("cfg_x")!);
    const x0 = f32Bits(x).subarray(0, 256);
    expect(cfgX.subarray(0, 256)).toEqual(x0);
    expect(cfgX.subarray(256, 512)).toEqual(x0);
  });
});
