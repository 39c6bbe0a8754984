import { describe, expect, it } from "vitest";
import {
  BytesSink,
  decodeNpy,
  encodeNpy,
  npyHeaderBytes,
  parseNpyHeader,
  parsePyLiteral,
  readNpy,
  TensorFileError,
  writeNpy,
} from "../../src/io/index";
import { Tensor } from "../../src/tensor";
import { asciiBytes, bytesOf, expectFileError, expectFileErrorSync, expectSameBytes } from "./helpers";

/** A .npy file with a hand-written header dict, in format version `major`. */
function npyWith(dict: string, data: Uint8Array, major = 1): Uint8Array {
  const fieldSize = major === 1 ? 2 : 4;
  const pad = (64 - ((8 + fieldSize + dict.length + 1) % 64)) % 64;
  const text = `${dict}${" ".repeat(pad)}\n`;
  const bytes = major === 3 ? new TextEncoder().encode(text) : asciiBytes(text);
  const out = new Uint8Array(8 + fieldSize + bytes.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, bytes.length, true);
  else dv.setUint32(8, bytes.length, true);
  out.set(bytes, 8 + fieldSize);
  out.set(data, 8 + fieldSize + bytes.length);
  return out;
}

const ALL = [
  Tensor.from(
    "float32",
    [3, 4],
    Array.from({ length: 12 }, (_, i) => i - 5.5),
  ),
  Tensor.from("float16", [2, 2], [1, -0.5, 65504, 6e-8]),
  Tensor.from("float64", [5], [Math.PI, -1e-300, Number.NaN, Number.NEGATIVE_INFINITY, 0]),
  Tensor.from("int64", [], [-(2n ** 63n)]),
  Tensor.from("int32", [2, 1, 3], [1, -2, 3, -4, 5, -6]),
  Tensor.from("uint8", [2, 0, 3], []),
  Tensor.from("bool", [7], [1, 0, 0, 1, 1, 0, 1]),
];

describe("npy", () => {
  it("writes numpy-identical headers (numpy 2.x np.save output)", () => {
    // From np.save of zeros((3, 4), float32) / zeros((5,), float64) / zeros((), int64): 128-byte headers,
    // space padding (incl. room for the first axis to grow to 21 digits) and a final newline.
    const expected = (dict: string) => {
      const text = `${dict}${" ".repeat(128 - 10 - dict.length - 1)}\n`;
      return Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0, ...asciiBytes(text)]);
    };
    expect(npyHeaderBytes("float32", [3, 4])).toEqual(
      expected("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"),
    );
    expect(npyHeaderBytes("float64", [5])).toEqual(
      expected("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }"),
    );
    expect(npyHeaderBytes("int64", [])).toEqual(
      expected("{'descr': '<i8', 'fortran_order': False, 'shape': (), }"),
    );
    expect(npyHeaderBytes("bool", [7])).toEqual(
      expected("{'descr': '|b1', 'fortran_order': False, 'shape': (7,), }"),
    );
    expect(npyHeaderBytes("float16", [1, 2, 3, 4, 5, 6, 7, 8])).toEqual(
      expected("{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8), }"),
    );
    for (const t of ALL) expect(npyHeaderBytes(t.dtype, t.shape).length % 64).toBe(0);
  });

  it("round-trips every dtype bitwise", async () => {
    for (const t of ALL) {
      const bytes = encodeNpy(t);
      const back = decodeNpy(bytes);
      expect(back.dtype).toBe(t.dtype);
      expect(back.shape).toEqual(t.shape);
      expectSameBytes(back.data, t.data);
      const viaSource = await readNpy(bytes, { name: "x.npy" });
      expectSameBytes(viaSource.data, t.data);
      const sink = new BytesSink();
      await writeNpy(sink, t);
      expect(sink.bytes()).toEqual(bytes);
    }
  });

  it("reads format versions 1.0, 2.0 and 3.0 (utf-8 header)", () => {
    const data = bytesOf(Float64Array.from([1, 2, 3, 4, 5, 6]));
    for (const major of [1, 2, 3]) {
      const bytes = npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", data, major);
      const h = parseNpyHeader(bytes);
      expect(h.version).toEqual([major, 0]);
      expect(h.headerLength % 64).toBe(0);
      const t = decodeNpy(bytes);
      expect(t.shape).toEqual([2, 3]);
      expect([...t.data]).toEqual([1, 2, 3, 4, 5, 6]);
    }
    // Key order and quoting are free; Python 2 longs ("3L") are accepted.
    const t = decodeNpy(
      npyWith('{"shape": (3L,), "fortran_order": False, "descr": "|u1"}', Uint8Array.from([1, 2, 3])),
    );
    expect([...t.data]).toEqual([1, 2, 3]);
  });

  it("refuses Fortran order, big-endian and other dtypes, naming the array", () => {
    const d = new Uint8Array(48);
    const ctx = { file: "stats.npz", array: "sigma" };
    expectFileErrorSync(
      () => decodeNpy(npyWith("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", d), ctx),
      /^stats\.npz: array 'sigma': Fortran-order/,
    );
    expectFileErrorSync(
      () => decodeNpy(npyWith("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", d), ctx),
      /array 'sigma': big-endian dtype '>f8'/,
    );
    expectFileErrorSync(
      () => decodeNpy(npyWith("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", d), ctx),
      /unsupported .npy dtype '<i2'/,
    );
    expectFileErrorSync(
      () => decodeNpy(npyWith("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", d), ctx),
      /'\|O'/,
    );
    expectFileErrorSync(
      () => decodeNpy(npyWith("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", d), ctx),
      /structured/,
    );
  });

  it("gives clear errors for truncated or malformed files", async () => {
    const good = encodeNpy(ALL[0]);
    for (const cut of [0, 5, 9, 10, 50, 127, 128, 130, good.length - 1]) {
      const err = await expectFileError(readNpy(good.subarray(0, cut), { name: "a.npy" }), /^a\.npy: /);
      expect(err.message).toMatch(/magic|truncated|beyond the end|needs \d+ data bytes/);
      expect(() => decodeNpy(good.subarray(0, cut))).toThrow(TensorFileError);
    }
    await expectFileError(
      readNpy(concatTrailing(good), { name: "a.npy" }),
      /needs 48 data bytes, the file has 49/,
    );
    const bad = (dict: string) => () => decodeNpy(npyWith(dict, new Uint8Array(8)), { file: "m.npy" });
    expectFileErrorSync(
      bad("{'descr': '<f8', 'fortran_order': False, 'shape': (1,) "),
      /malformed .npy header/,
    );
    expectFileErrorSync(bad("{'descr': '<f8', 'shape': (1,), }"), /expected descr, fortran_order, shape/);
    expectFileErrorSync(
      bad("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }"),
      /fortran_order is not a boolean/,
    );
    expectFileErrorSync(
      bad("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }"),
      /invalid .npy shape/,
    );
    expectFileErrorSync(bad("(1, 2)"), /not a dict/);
    const wrongVersion = encodeNpy(ALL[0]);
    wrongVersion[6] = 9;
    expectFileErrorSync(
      () => decodeNpy(wrongVersion, { file: "v.npy" }),
      /unsupported .npy format version 9/,
    );
    const huge = npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8), 2);
    new DataView(huge.buffer).setUint32(8, 0xfffffff0, true);
    expectFileErrorSync(() => decodeNpy(huge), /exceeds the 1048576-byte limit/);
  });

  it("parses the Python literal subset", () => {
    expect(parsePyLiteral("{'a': (1, 2,), 'b': [True, None], 'c': ()}")).toEqual(
      new Map<unknown, unknown>([
        ["a", [1, 2]],
        ["b", [true, null]],
        ["c", []],
      ]),
    );
    expect(() => parsePyLiteral("__import__('os')")).toThrow(/unexpected token/);
    expect(() => parsePyLiteral("(".repeat(100))).toThrow(/too deep/);
  });
});

function concatTrailing(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
