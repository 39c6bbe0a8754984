import { describe, expect, it } from "vitest";
import { type Int64, ProtoReader, ProtoWriter } from "../../src/onnx/wire";

/** Reads every field of a message into [field, value] pairs with the given reader method. */
function readAll<T>(bytes: Uint8Array, read: (r: ProtoReader) => T): [number, T][] {
  const r = new ProtoReader(bytes);
  const out: [number, T][] = [];
  while (r.next()) out.push([r.field, read(r)]);
  return out;
}

describe("protobuf wire", () => {
  it("round-trips varints, including negative and 64-bit values", () => {
    const values: Int64[] = [
      0,
      1,
      127,
      128,
      300,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 + 5,
      Number.MAX_SAFE_INTEGER,
      -1,
      -300,
      Number.MIN_SAFE_INTEGER,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ];
    const w = new ProtoWriter();
    for (const [i, v] of values.entries()) w.varint(i + 1, v);
    expect(readAll(w.finish(), (r) => r.int64()).map(([, v]) => v)).toEqual(values);
  });

  it("uses the canonical encodings (150 -> 96 01, -1 -> ten bytes)", () => {
    expect([...new ProtoWriter().varint(1, 150).finish()]).toEqual([0x08, 0x96, 0x01]);
    expect([...new ProtoWriter().varint(1, -1).finish()]).toEqual([0x08, ...Array(9).fill(0xff), 0x01]);
  });

  it("round-trips floats, doubles, strings, bytes and nested messages", () => {
    const w = new ProtoWriter();
    w.float(1, 1.5)
      .double(2, Math.PI)
      .string(3, "héllo ✓")
      .bytes(4, new Uint8Array([1, 2, 3]));
    w.message(5, (c) => c.varint(1, 7).string(2, "inner"));
    const r = new ProtoReader(w.finish());
    expect(r.next() && r.float()).toBe(1.5);
    expect(r.next() && r.double()).toBe(Math.PI);
    expect(r.next() && r.string()).toBe("héllo ✓");
    expect(r.next() && [...r.bytesField()]).toEqual([1, 2, 3]);
    expect(r.next()).toBe(true);
    const inner = r.message();
    expect(inner.next() && inner.int64()).toBe(7);
    expect(inner.next() && inner.string()).toBe("inner");
    expect(inner.next()).toBe(false);
    expect(r.next()).toBe(false);
  });

  it("round-trips ASCII and non-ASCII strings of every length class", () => {
    const values = [
      "",
      "a",
      "x".repeat(63),
      "y".repeat(64),
      "z".repeat(127),
      "w".repeat(128),
      "ü".repeat(100),
      "名前",
    ];
    const w = new ProtoWriter();
    for (const v of values) w.string(1, v);
    expect(readAll(w.finish(), (r) => r.string()).map(([, v]) => v)).toEqual(values);
  });

  it("reads repeated scalars both packed and unpacked", () => {
    const w = new ProtoWriter();
    w.packedVarints(1, [1, -2, 3n ** 39n]).varint(1, 4);
    w.packedFloats(2, [0.5, -1]).float(2, 2);
    w.packedDoubles(3, [1e300]).double(3, -0.25);
    const ints: Int64[] = [];
    const floats: number[] = [];
    const doubles: number[] = [];
    const r = new ProtoReader(w.finish());
    while (r.next()) {
      if (r.field === 1) r.varints(ints);
      else if (r.field === 2) r.floats(floats);
      else r.doubles(doubles);
    }
    expect(ints).toEqual([1, -2, 3n ** 39n, 4]);
    expect(floats).toEqual([0.5, -1, 2]);
    expect(doubles).toEqual([1e300, -0.25]);
  });

  it("skips unknown fields of every wire type", () => {
    const w = new ProtoWriter();
    w.varint(9, -5).float(10, 1).double(11, 2).bytes(12, new Uint8Array(40000)).string(1, "kept");
    const r = new ProtoReader(w.finish());
    const seen: string[] = [];
    while (r.next()) {
      if (r.field === 1) seen.push(r.string());
      else r.skip();
    }
    expect(seen).toEqual(["kept"]);
  });

  it("keeps large byte fields by reference and reports the length before finishing", () => {
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const w = new ProtoWriter();
    w.message(1, (c) => c.bytes(2, big).string(3, "tail"));
    w.varint(4, 1);
    const bytes = w.finish();
    expect(w.length).toBe(bytes.length);
    const r = new ProtoReader(bytes);
    r.next();
    const inner = r.message();
    inner.next();
    expect(inner.bytesField()).toEqual(big);
    expect(inner.next() && inner.string()).toBe("tail");
    expect(r.next() && r.int64()).toBe(1);
  });

  it("rejects malformed input with clear errors", () => {
    const read = (bytes: number[]) => () => {
      const r = new ProtoReader(new Uint8Array(bytes));
      while (r.next()) r.skip();
    };
    expect(read([0x08, 0x80])).toThrow(/truncated varint at byte 1/);
    expect(read([0x08, ...Array(10).fill(0x80), 0x01])).toThrow(/longer than 10 bytes/);
    expect(read([0x08, ...Array(9).fill(0xff), 0x02])).toThrow(/overflows 64 bits/);
    expect(read([0x0a, 0x05, 0x01])).toThrow(/length 5 of field 1 exceeds the 1 bytes left/);
    expect(read([0x0d, 0x00, 0x00])).toThrow(/truncated field 1/);
    expect(read([0x0b])).toThrow(/group/);
    expect(read([0x0e])).toThrow(/invalid wire type 6/);
    expect(read([0x00])).toThrow(/field number 0/);
    const r = new ProtoReader(new ProtoWriter().varint(1, 1).finish());
    r.next();
    expect(() => r.string()).toThrow(/field 1 has wire type 0, expected 2/);
  });

  it("rejects integers that do not fit", () => {
    expect(() => new ProtoWriter().varint(1, 2 ** 60)).toThrow(/bigint/);
    expect(() => new ProtoWriter().varint(1, 1.5)).toThrow(/integer/);
    expect(() => new ProtoWriter().varint(1, 2n ** 64n)).toThrow(/64 bits/);
  });
});
