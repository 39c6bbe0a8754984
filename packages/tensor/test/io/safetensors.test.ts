import { describe, expect, it } from "vitest";
import {
  BytesSink,
  blobSource,
  bytesSource,
  encodeSafetensors,
  openSafetensors,
  readSafetensors,
  safetensorsChunks,
  writeSafetensors,
} from "../../src/io/index";
import { Tensor } from "../../src/tensor";
import {
  asciiBytes,
  bytesOf,
  expectFileError,
  expectSameBytes,
  fixture,
  recordingSource,
  touches,
} from "./helpers";

function u64le(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A safetensors file with a hand-written header (padded to 8) and data. */
function craft(header: string, data: Uint8Array = new Uint8Array(0), lengthOverride?: number): Uint8Array {
  const h = asciiBytes(header.padEnd(Math.ceil(header.length / 8) * 8, " "));
  return concat(u64le(lengthOverride ?? h.length), h, data);
}

const ALL_DTYPES = () =>
  new Map<string, Tensor>([
    ["f32", Tensor.from("float32", [2, 3], [1, -2, 3.5, 1e-30, Number.NaN, Number.POSITIVE_INFINITY])],
    ["f16", Tensor.from("float16", [3], [0.5, -65504, 1e-7])],
    ["f64", Tensor.from("float64", [2, 2], [Math.PI, -Math.E, 1e300, -0])],
    ["i64", Tensor.from("int64", [3], [-(2n ** 62n), 0n, 2n ** 63n - 1n])],
    ["i32", Tensor.from("int32", [2], [-2147483648, 2147483647])],
    ["u8", Tensor.from("uint8", [4], [0, 1, 128, 255])],
    ["bool", Tensor.from("bool", [3], [1, 0, 1])],
    ["scalar", Tensor.from("float32", [], [42])],
    ["empty", Tensor.zeros("float32", [2, 0, 3])],
  ]);

describe("safetensors writer", () => {
  it("matches the reference implementation's bytes (its serialization tests)", () => {
    const data = Float32Array.from([0, 1, 2, 3, 4, 5]);
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 bytes: no padding
    expect(encodeSafetensors({ "attn.0": new Tensor("float32", [1, 2, 3], data) })).toEqual(
      concat(u64le(64), asciiBytes(header), bytesOf(data)),
    );
    const header2 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       '; // 65 + 7 spaces
    expect(encodeSafetensors({ attn0: new Tensor("float32", [1, 1, 2, 3], data) })).toEqual(
      concat(u64le(72), asciiBytes(header2), bytesOf(data)),
    );
    expect(encodeSafetensors({})).toEqual(concat(u64le(8), asciiBytes("{}      ")));
    expect(encodeSafetensors({}, { metadata: { framework: "pt" } })).toEqual(
      concat(u64le(40), asciiBytes('{"__metadata__":{"framework":"pt"}}     ')),
    );
  });

  it("sorts by descending dtype alignment, then name, with contiguous offsets", async () => {
    const tensors = ALL_DTYPES();
    tensors.set("b_f32", Tensor.from("float32", [1], [7]));
    tensors.set("a_f32", Tensor.from("float32", [1], [8]));
    const bytes = encodeSafetensors(tensors);
    const f = await openSafetensors(bytes);
    expect(f.names).toEqual([
      "i64",
      "f64",
      "a_f32",
      "b_f32",
      "empty",
      "f32",
      "scalar",
      "i32",
      "f16",
      "u8",
      "bool",
    ]);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(f.dataStart).toBe(8 + n);
    // JSON header keys appear in the same order as the data.
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(Object.keys(JSON.parse(json))).toEqual(f.names);
    expect(json.endsWith(" ") || json.endsWith("}")).toBe(true);
  });

  it("round-trips every dtype and __metadata__ bitwise", async () => {
    const tensors = ALL_DTYPES();
    const metadata = { format: "pt", note: 'quotes " and \\ and ünïcode' };
    const bytes = encodeSafetensors(tensors, { metadata });
    const back = await readSafetensors(bytes, { name: "rt.safetensors" });
    expect(back.metadata).toEqual(metadata);
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const r = back.tensors.get(name)!;
      expect(r.dtype, name).toBe(t.dtype);
      expect(r.shape, name).toEqual(t.shape);
      expectSameBytes(r.data, t.data, name);
    }
    // Streaming to a sink gives the same bytes.
    const sink = new BytesSink();
    expect(await writeSafetensors(sink, tensors, { metadata })).toBe(bytes.length);
    expect(sink.bytes()).toEqual(bytes);
    expect([...safetensorsChunks(tensors)].length).toBe(2 + tensors.size);
  });

  it("refuses '__metadata__' as a tensor name and non-string metadata", () => {
    expect(() => encodeSafetensors({ __metadata__: Tensor.scalar(1) })).toThrow(/__metadata__/);
    expect(() => encodeSafetensors({}, { metadata: { a: 1 as unknown as string } })).toThrow(/string/);
  });
});

describe("safetensors reader", () => {
  it("reads the golden sit.safetensors lazily: header + one tensor's range", async () => {
    const bytes = fixture("sit/sit.safetensors");
    const src = recordingSource(bytes, "sit.safetensors");
    const f = await openSafetensors(src);
    expect(f.names.length).toBe(32);
    expect(f.info("pos_embed")).toMatchObject({ dtype: "F32", shape: [1, 16, 64] });
    const headerReads = src.reads.length;
    const e = f.info("x_embedder.proj.weight");
    const t = await f.tensor("x_embedder.proj.weight");
    expect(t.shape).toEqual([64, 4, 2, 2]);
    expect(src.reads.slice(headerReads)).toEqual([[f.dataStart + e.begin, f.dataStart + e.end]]);
    // Nothing else of the data section was touched.
    for (const other of f.entries.values()) {
      if (other.name !== e.name)
        expect(touches(src.reads, f.dataStart + other.begin, f.dataStart + other.end)).toBe(false);
    }
  });

  it("converts BF16 to float32 exactly; other foreign dtypes are available as bytes only", async () => {
    const bf16 = Uint8Array.from([0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40, 0x80, 0x7f]); // 1, -2, 3.140625, inf
    const i16 = Uint8Array.from([1, 0, 0xff, 0xff]);
    const file = craft(
      '{"b":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]},"s":{"dtype":"I16","shape":[2],"data_offsets":[8,12]}}',
      concat(bf16, i16),
    );
    const f = await openSafetensors(file, { name: "bf16.safetensors" });
    const b = await f.tensor("b");
    expect(b.dtype).toBe("float32");
    expect([...b.data]).toEqual([1, -2, 3.140625, Number.POSITIVE_INFINITY]);
    await expectFileError(f.tensor("s"), "bf16.safetensors", /I16/, /readBytes/);
    expect(await f.readBytes("s")).toEqual(i16);
    await expectFileError(f.tensor("nope"), /no tensor named 'nope'/);
  });

  it("gives clear errors for truncated files at any offset", async () => {
    const bytes = encodeSafetensors(ALL_DTYPES(), { metadata: { a: "b" } });
    const cuts = [0, 1, 7, 8, 9, 20, 100, bytes.length - 100, bytes.length - 9, bytes.length - 1];
    for (let i = 8; i < bytes.length; i += 37) cuts.push(i);
    for (const cut of cuts) {
      const err = await expectFileError(
        openSafetensors(bytes.subarray(0, cut), { name: "cut.safetensors" }),
        /^cut\.safetensors: /,
      );
      expect(err.message).toMatch(/too short|runs past the end|truncated|not valid JSON/);
    }
  });

  it("rejects corrupted headers with messages saying what was expected", async () => {
    const d8 = new Uint8Array(8);
    const name = { name: "bad.safetensors" };
    await expectFileError(
      openSafetensors(concat(u64le(2 ** 40), asciiBytes("{}")), name),
      "bad.safetensors",
      /exceeds the 100000000-byte limit/,
    );
    await expectFileError(
      openSafetensors(concat(new Uint8Array(8).fill(0xff), asciiBytes("{}")), name),
      /exceeds/,
    );
    await expectFileError(
      openSafetensors(craft("{}", new Uint8Array(0), 4096), name),
      /runs past the end of the file/,
    );
    await expectFileError(openSafetensors(craft('{"a": {"dtype": "F32", '), name), /not valid JSON/);
    await expectFileError(openSafetensors(craft("[1,2,3]"), name), /not a JSON object/);
    await expectFileError(
      openSafetensors(concat(u64le(8), Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d, 32, 32, 32, 32])), name),
      /UTF-8/,
    );
    await expectFileError(
      openSafetensors(craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}', d8), name),
      /'a'/,
      /span 16 bytes but F32 of shape \[2\] needs 8/,
    );
    await expectFileError(
      openSafetensors(
        craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(4)),
        name,
      ),
      /truncated: the header describes 8 bytes of tensor data but only 4/,
    );
    await expectFileError(
      openSafetensors(craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[1000,1008]}}', d8), name),
      /'a'.*leave a gap \(expected it to start at 0\)/,
    );
    await expectFileError(
      openSafetensors(
        craft(
          '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}',
          d8,
        ),
        name,
      ),
      /overlap/,
    );
    await expectFileError(
      openSafetensors(craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', d8), name),
      /invalid data_offsets/,
    );
    await expectFileError(
      openSafetensors(craft('{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}', d8), name),
      /unknown dtype "F33"/,
    );
    await expectFileError(
      openSafetensors(craft('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', d8), name),
      /invalid shape/,
    );
    await expectFileError(
      openSafetensors(craft('{"a":{"dtype":"F32","shape":"x","data_offsets":[0,8]}}', d8), name),
      /invalid shape/,
    );
    await expectFileError(openSafetensors(craft('{"a":[1]}'), name), /'a': is not an object/);
    await expectFileError(
      openSafetensors(craft('{"__metadata__":{"k":1}}'), name),
      /__metadata__ value of 'k'/,
    );
    await expectFileError(
      openSafetensors(
        craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(12)),
        name,
      ),
      /4 unexpected bytes after the tensor data/,
    );
    await expectFileError(
      openSafetensors(
        craft('{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', d8),
        name,
      ),
      /too large|needs/,
    );
  });

  it("reads from a source whose name labels errors", async () => {
    const src = bytesSource(new Uint8Array(3), "tiny.safetensors");
    await expectFileError(openSafetensors(src), /^tiny\.safetensors: not a safetensors file/);
  });
});

describe("blobSource", () => {
  it("reads a safetensors file from a Blob lazily", async () => {
    const bytes = encodeSafetensors(ALL_DTYPES());
    const f = await openSafetensors(blobSource(new Blob([bytes]), "blob.safetensors"));
    expect(f.name).toBe("blob.safetensors");
    expectSameBytes((await f.tensor("i64")).data, ALL_DTYPES().get("i64")!.data);
  });
});
