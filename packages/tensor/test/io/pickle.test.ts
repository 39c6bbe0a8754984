import { describe, expect, it } from "vitest";
import { containerGlobal, TensorFileError, unpickle } from "../../src/io/index";
import { asciiBytes, expectFileErrorSync, hexBytes, rng } from "./helpers";
import { PICKLES } from "./pickles.fixture";

// The value the PICKLES fixture holds (pickled by CPython with protocols 0..5; "ns" from protocol 2 on,
// since protocols 0/1 spell plain objects with copy_reg._reconstructor, which is refused).
const EXPECTED = new Map<unknown, unknown>([
  [
    "a",
    [
      1,
      2.5,
      null,
      true,
      false,
      "héllo ☃",
      Uint8Array.of(0, 1, 255),
      [1, 2],
      2n ** 70n,
      -3,
      -(2 ** 40),
      300,
      70000,
      new Set([1, 2]),
      new Set([3]),
    ],
  ],
  [
    "od",
    new Map<unknown, unknown>([
      ["x", 1],
      ["y", []],
    ]),
  ],
  ["inf", Number.POSITIVE_INFINITY],
  ["ba", Uint8Array.of(97, 98)],
  ["neg", -1.5e-300],
]);

describe("restricted unpickler", () => {
  for (const proto of [0, 1, 2, 3, 4, 5]) {
    it(`decodes CPython protocol ${proto} pickles of plain containers`, () => {
      const v = unpickle(hexBytes(PICKLES[proto]), { name: `p${proto}.pkl` }) as Map<unknown, unknown>;
      const expected = new Map(EXPECTED);
      if (proto >= 2) expected.set("ns", { lr: 0.0001, name: "refiner", depth: 2 });
      expect(v).toEqual(expected);
    });
  }

  it("refuses every global outside the allow-list, naming it, before calling anything", () => {
    const cases: [string, Uint8Array][] = [
      ["os.system", asciiBytes("cos\nsystem\n(S'echo pwned'\ntR.")],
      ["posix.system", asciiBytes("cposix\nsystem\n(S'touch /tmp/pwned'\ntR.")],
      ["nt.system", asciiBytes("\x80\x02cnt\nsystem\nX\x02\x00\x00\x00ls\x85R.")],
      ["subprocess.check_output", asciiBytes("(S'ls'\nisubprocess\ncheck_output\n.")],
      ["__builtin__.eval", asciiBytes("c__builtin__\neval\n(S'1+1'\ntR.")],
      ["builtins.getattr", asciiBytes("cbuiltins\ngetattr\n.")],
      ["copy_reg._reconstructor", asciiBytes("ccopy_reg\n_reconstructor\n.")],
      ["torch._utils._rebuild_tensor_v2", asciiBytes("ctorch._utils\n_rebuild_tensor_v2\n.")], // not without the torch allow-list
      ["collections.defaultdict", asciiBytes("ccollections\ndefaultdict\n.")],
    ];
    // Protocol 4 STACK_GLOBAL: builtins.eval('1+1').
    cases.push([
      "builtins.eval",
      Uint8Array.from([
        0x80,
        4,
        0x8c,
        8,
        ...asciiBytes("builtins"),
        0x8c,
        4,
        ...asciiBytes("eval"),
        0x93,
        0x8c,
        3,
        ...asciiBytes("1+1"),
        0x85,
        0x52,
        0x2e,
      ]),
    ]);
    for (const [name, bytes] of cases) {
      const err = expectFileErrorSync(
        () => unpickle(bytes, { name: "evil.pkl" }),
        `refusing global '${name}'`,
      );
      expect(err.message.startsWith("evil.pkl: ")).toBe(true);
    }
    // A custom allow-list sees the names but nothing is invoked for refused ones.
    const asked: string[] = [];
    expectFileErrorSync(
      () =>
        unpickle(asciiBytes("cposix\nsystem\n(S'x'\ntR."), {
          findGlobal: (m, n) => {
            asked.push(`${m}.${n}`);
            return undefined;
          },
        }),
      /refusing global 'posix\.system'/,
    );
    expect(asked).toEqual(["posix.system"]);
    expect(containerGlobal("os", "system")).toBeUndefined();
  });

  it("rejects malformed pickles with clear errors", () => {
    const bad: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /without a STOP opcode/],
      [Uint8Array.of(0x80, 2, 0x5d), /without a STOP opcode/],
      [Uint8Array.of(0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x2e), /BINUNICODE needs 2147483647 bytes/],
      [Uint8Array.of(0x80, 2, 0x68, 5, 0x2e), /memo key 5 is not defined/],
      [Uint8Array.of(0x2e), /stack underflow/],
      [Uint8Array.of(0x80, 2, 0x74, 0x2e), /no MARK/],
      [Uint8Array.of(0x80, 2, 0xff), /unknown or unsupported pickle opcode 0xff at offset 2/],
      [Uint8Array.of(0x80, 9, 0x2e), /unsupported pickle protocol 9/],
      [Uint8Array.of(0x80, 2, 0x82, 1, 0x2e), /extension registry/],
      [Uint8Array.of(0x80, 5, 0x97, 0x2e), /out-of-band buffers/],
      [Uint8Array.of(0x80, 2, 0x29, 0x29, 0x52, 0x2e), /not an allowed global/],
      [Uint8Array.of(0x80, 2, 0x5d, 0x7d, 0x62, 0x2e), /BUILD/],
      [Uint8Array.of(0x80, 2, 0x4e, 0x51, 0x2e), /persistent ids/],
      [Uint8Array.of(0x80, 2, 0x5d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e), /SETITEM on a non-dict/],
      [asciiBytes("I12x\n."), /bad INT/],
      [asciiBytes("S'abc\n."), /not quoted/],
      [asciiBytes("cos\n"), /no terminating newline/],
      [Uint8Array.of(0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x2e), /FRAME length/],
    ];
    for (const [bytes, pattern] of bad)
      expectFileErrorSync(() => unpickle(bytes, { name: "bad.pkl" }), /^bad\.pkl: /, pattern);
  });

  it("never crashes on truncated or randomly corrupted input (always a TensorFileError or a value)", () => {
    const good = hexBytes(PICKLES[2]);
    for (let cut = 0; cut < good.length; cut++) {
      expect(() => unpickle(good.subarray(0, cut))).toThrow(TensorFileError);
    }
    const rand = rng(1234);
    for (let trial = 0; trial < 3000; trial++) {
      const b = good.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        unpickle(b);
      } catch (err) {
        if (!(err instanceof TensorFileError)) throw new Error(`trial ${trial}: ${(err as Error).stack}`);
      }
    }
  });

  it("keeps '__proto__' keys of a Namespace as plain data", () => {
    // argparse.Namespace() with state {'__proto__': {'polluted': 1}}
    const w = [0x80, 2, ...asciiBytes("cargparse\nNamespace\n"), 0x29, 0x81, 0x7d];
    w.push(
      0x58,
      9,
      0,
      0,
      0,
      ...asciiBytes("__proto__"),
      0x7d,
      0x58,
      8,
      0,
      0,
      0,
      ...asciiBytes("polluted"),
      0x4b,
      1,
      0x73,
      0x73,
      0x62,
      0x2e,
    );
    const ns = unpickle(Uint8Array.from(w)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(ns)).toBe(Object.prototype);
    expect(Object.hasOwn(ns, "__proto__")).toBe(true);
    expect((ns as { polluted?: unknown }).polluted).toBeUndefined();
  });
});
