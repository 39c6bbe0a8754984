import { describe, expect, it } from "vitest";
import {
  BytesSink,
  crc32,
  encodeNpz,
  encodeZip,
  npzChunks,
  openNpz,
  openSafetensors,
  openZip,
  writeNpz,
  zipChunks,
} from "../../src/io/index";
import { Tensor } from "../../src/tensor";
import { asciiBytes, expectFileError, expectSameBytes, fixture, recordingSource, touches } from "./helpers";

interface Member {
  member: string;
  local_header_offset: number;
  data_offset: number;
  compress_size: number;
}
const CASE = JSON.parse(new TextDecoder().decode(fixture("metrics/adm_npz/case.json"))) as {
  zip_members: Record<string, Member[]>;
};
const STATS = ["mu", "sigma", "mu_s", "sigma_s"];

const ALL = () =>
  new Map<string, Tensor>([
    [
      "f32",
      Tensor.from(
        "float32",
        [3, 4],
        Array.from({ length: 12 }, (_, i) => i * 0.25 - 1),
      ),
    ],
    ["f16", Tensor.from("float16", [2], [1.5, -2])],
    ["f64", Tensor.from("float64", [2, 2], [Math.PI, -0, Number.NaN, 1e-310])],
    ["i64", Tensor.from("int64", [2], [2n ** 62n, -5n])],
    ["i32", Tensor.from("int32", [], [-7])],
    ["u8", Tensor.from("uint8", [2, 0], [])],
    ["b", Tensor.from("bool", [4], [0, 1, 1, 0])],
    ["nested/name ü", Tensor.from("uint8", [3], [1, 2, 3])],
  ]);

function expectSameTensors(a: Map<string, Tensor>, b: Map<string, Tensor>) {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect(u.dtype, k).toBe(t.dtype);
    expect(u.shape, k).toEqual(t.shape);
    expectSameBytes(u.data, t.data, k);
  }
}

describe("npz: ADM reference-batch fixtures (np.savez / np.savez_compressed)", () => {
  for (const file of ["adm_npz.npz", "adm_npz_compressed.npz"]) {
    it(`${file}: reads mu/sigma/mu_s/sigma_s without touching arr_0`, async () => {
      const expected = await (await openSafetensors(fixture("metrics/adm_npz/case.safetensors"))).tensors();
      const bytes = fixture(`metrics/adm_npz/${file}`);
      const src = recordingSource(bytes, file);
      const npz = await openNpz(src);
      expect(npz.names).toEqual(["arr_0", ...STATS]);
      for (const name of STATS) {
        const t = await npz.read(name);
        const want = expected.get(name)!;
        expect(t.dtype).toBe("float64");
        expect(t.shape).toEqual(want.shape);
        expectSameBytes(t.data, want.data);
      }
      const members = CASE.zip_members[file];
      const arr0 = members[0];
      expect(arr0.member).toBe("arr_0.npy");
      // arr_0's local header and data occupy [its local header offset, the next member's local header).
      expect(touches(src.reads, arr0.local_header_offset, members[1].local_header_offset)).toBe(false);
      // Data offsets came from the LOCAL headers (20-byte ZIP64 extra there, none in the central directory).
      for (const m of members.slice(1)) {
        expect(await npz.zip.dataOffset(npz.zip.entry(m.member))).toBe(m.data_offset);
        expect(touches(src.reads, m.data_offset, m.data_offset + m.compress_size)).toBe(true);
      }
      // And arr_0 itself is readable too.
      const arr = await npz.read("arr_0");
      expect(arr.dtype).toBe("uint8");
      expect(arr.shape).toEqual([6, 16, 16, 3]);
      expectSameBytes(arr.data, expected.get("arr_0")!.data);
    });
  }

  it("reads one stored array's header with a few small reads", async () => {
    const src = recordingSource(fixture("metrics/adm_npz/adm_npz.npz"), "adm.npz");
    const npz = await openNpz(src);
    const before = src.bytesRead;
    const h = await npz.header("sigma");
    expect(h).toMatchObject({ descr: "<f8", shape: [128, 128], fortranOrder: false, headerLength: 128 });
    expect(src.bytesRead - before).toBeLessThan(300);
  });
});

describe("npz writer", () => {
  it("round-trips all dtypes (auto mode: no ZIP64 records)", async () => {
    const arrays = ALL();
    const bytes = encodeNpz(arrays);
    const npz = await openNpz(bytes, { name: "rt.npz" });
    expect(npz.names).toEqual([...arrays.keys()]);
    expectSameTensors(arrays, await npz.readAll());
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(bytes.length - 22 - 20, true)).not.toBe(0x07064b50); // no ZIP64 locator
    expect(dv.getUint16(bytes.length - 22 + 10, true)).toBe(arrays.size);
    for (const e of npz.zip.entries) expect(e.method).toBe(0);
    const sink = new BytesSink();
    await writeNpz(sink, arrays);
    expect(sink.bytes()).toEqual(bytes);
  });

  it("round-trips with forced ZIP64 records everywhere", async () => {
    const arrays = ALL();
    const bytes = encodeNpz(arrays, { zip64: true });
    const dv = new DataView(bytes.buffer);
    const eocd = bytes.length - 22;
    expect(dv.getUint32(eocd, true)).toBe(0x06054b50);
    expect(dv.getUint16(eocd + 10, true)).toBe(0xffff);
    expect(dv.getUint32(eocd + 12, true)).toBe(0xffffffff);
    expect(dv.getUint32(eocd + 16, true)).toBe(0xffffffff);
    expect(dv.getUint32(eocd - 20, true)).toBe(0x07064b50);
    // First local header: sizes deferred to its ZIP64 extra field (id 1, 16 bytes).
    expect(dv.getUint32(18, true)).toBe(0xffffffff);
    const nameLen = dv.getUint16(26, true);
    expect(dv.getUint16(28, true)).toBe(20);
    expect(dv.getUint16(30 + nameLen, true)).toBe(1);
    const npz = await openNpz(bytes, { name: "z64.npz" });
    expect(npz.zip.entries.every((e) => e.size < 1000 && e.compressedSize === e.size)).toBe(true);
    expectSameTensors(arrays, await npz.readAll());
  });

  it("writes and reads more than 65535 entries (ZIP64 end records)", async () => {
    const n = 70_000;
    const entries = Array.from({ length: n }, (_, i) => ({
      name: `e${i}`,
      data: Uint8Array.of(i & 255, i >> 8),
    }));
    const bytes = encodeZip(entries);
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint16(bytes.length - 22 + 10, true)).toBe(0xffff);
    const zip = await openZip(bytes, { name: "many.zip" });
    expect(zip.entries.length).toBe(n);
    expect(await zip.read("e69999")).toEqual(Uint8Array.of(69999 & 255, 69999 >> 8));
    expect(() => encodeZip(entries, { zip64: false })).toThrow(/needs ZIP64/);
  });

  it("writes and reads a member larger than 4 GiB and one beyond the 4 GiB offset (virtual file)", async () => {
    const block = new Uint8Array(16 << 20); // zeros; referenced 257 times, never copied
    const bigSize = 257 * block.length;
    const pieces: { offset: number; bytes: Uint8Array }[] = [];
    let offset = 0;
    for (const chunk of zipChunks([
      { name: "big.bin", data: new Array(257).fill(block) },
      { name: "small.txt", data: asciiBytes("hello") },
    ])) {
      if (chunk !== block) pieces.push({ offset, bytes: chunk.slice() });
      offset += chunk.length;
    }
    // The file is all zeros except the recorded pieces (headers, small member, directory).
    const source = {
      size: offset,
      name: "virtual.zip",
      read: async (o: number, n: number) => {
        const out = new Uint8Array(n);
        for (const p of pieces) {
          const a = Math.max(o, p.offset);
          const b = Math.min(o + n, p.offset + p.bytes.length);
          if (a < b) out.set(p.bytes.subarray(a - p.offset, b - p.offset), a - o);
        }
        return out;
      },
    };
    const zip = await openZip(source);
    const big = zip.entry("big.bin");
    expect(big.size).toBe(bigSize);
    expect(big.compressedSize).toBe(bigSize);
    expect(await zip.dataOffset(big)).toBe(30 + 7 + 20);
    const small = zip.entry("small.txt");
    expect(small.localHeaderOffset).toBeGreaterThan(2 ** 32);
    expect(new TextDecoder().decode(await zip.read(small))).toBe("hello");
    // Local header of the big member: 32-bit sizes deferred to its ZIP64 extra field.
    const local = new DataView(pieces[0].bytes.buffer);
    expect(local.getUint32(18, true)).toBe(0xffffffff);
    expect(Number(local.getBigUint64(30 + 7 + 4, true))).toBe(bigSize);
  }, 300_000); // CRC-32 over 4 GiB: ~20 s alone, minutes when the CI machine runs every package at once

  it("streams chunks without copying tensor data and computes CRC-32", async () => {
    const t = Tensor.from("float32", [4], [1, 2, 3, 4]);
    const chunks = [...npzChunks({ t })];
    expect(chunks.some((c) => c.buffer === t.data.buffer)).toBe(true);
    const zip = await openZip(encodeNpz({ t }));
    const e = zip.entry("t.npy");
    expect(e.crc32).toBe(crc32(await zip.read(e)));
    expect(crc32(asciiBytes("123456789"))).toBe(0xcbf43926);
    expect(crc32(asciiBytes("6789"), crc32(asciiBytes("12345")))).toBe(0xcbf43926);
    expect(() => [
      ...zipChunks([
        { name: "a", data: new Uint8Array(1) },
        { name: "a", data: new Uint8Array(1) },
      ]),
    ]).toThrow(/duplicate/);
  });
});

describe("npz / zip corruption", () => {
  const stored = () => fixture("metrics/adm_npz/adm_npz.npz");
  const compressed = () => fixture("metrics/adm_npz/adm_npz_compressed.npz");
  const members = CASE.zip_members["adm_npz.npz"];
  const mu = members[1];
  const eocdFields = (b: Uint8Array) => {
    const dv = new DataView(b.buffer, b.byteOffset);
    const eocd = b.length - 22;
    return { dv, eocd, cdSize: dv.getUint32(eocd + 12, true), cdOffset: dv.getUint32(eocd + 16, true) };
  };

  it("truncated archives: clear error at every cut", async () => {
    const b = stored();
    for (const cut of [
      0,
      10,
      21,
      22,
      100,
      mu.data_offset,
      b.length / 2,
      b.length - 200,
      b.length - 23,
      b.length - 1,
    ]) {
      await expectFileError(
        openNpz(b.subarray(0, Math.floor(cut)), { name: "cut.npz" }),
        /^cut\.npz: /,
        /zip|truncated|short/,
      );
    }
  });

  it("not a zip file", async () => {
    await expectFileError(
      openNpz(asciiBytes("just some text that is long enough to look at"), { name: "x.npz" }),
      /not a zip archive/,
    );
  });

  it("bad local header signature", async () => {
    const b = stored();
    b[mu.local_header_offset] ^= 0xff;
    const npz = await openNpz(b, { name: "sig.npz" });
    await expectFileError(npz.read("mu"), /^sig\.npz: bad zip signature in the local header of 'mu\.npy'/);
    expect((await npz.read("sigma")).shape).toEqual([128, 128]);
  });

  it("bad central directory signature, offset and entry count", async () => {
    let b = stored();
    let f = eocdFields(b);
    b[f.cdOffset] ^= 0xff;
    await expectFileError(openNpz(b, { name: "cd.npz" }), /bad zip central directory entry #0/);
    b = stored();
    f = eocdFields(b);
    f.dv.setUint32(f.eocd + 16, f.cdOffset + 1000, true);
    await expectFileError(
      openNpz(b, { name: "cd.npz" }),
      /central directory .* overlaps the end records|truncated or corrupt/,
    );
    b = stored();
    f = eocdFields(b);
    f.dv.setUint16(f.eocd + 10, 60000, true);
    await expectFileError(openNpz(b, { name: "cd.npz" }), /cannot hold 60000 entries/);
    b = stored();
    f = eocdFields(b);
    f.dv.setUint32(f.cdOffset + 42, b.length + 5, true); // first entry's local header offset
    await expectFileError(
      openNpz(b, { name: "cd.npz" }),
      /member 'arr_0\.npy' .* outside the archive's data area/,
    );
  });

  it("CRC-32 mismatch in stored data is detected (and can be skipped)", async () => {
    const b = stored();
    b[mu.data_offset + 200] ^= 0x01;
    const npz = await openNpz(b, { name: "crc.npz" });
    await expectFileError(npz.read("mu"), /^crc\.npz: CRC-32 mismatch in member 'mu\.npy'/);
    expect((await npz.read("mu", { checkCrc: false })).shape).toEqual([128]);
  });

  it("corrupt or truncated deflate streams are detected", async () => {
    const cm = CASE.zip_members["adm_npz_compressed.npz"];
    const sigma = cm[2];
    let b = compressed();
    for (let i = 0; i < 64; i++) b[sigma.data_offset + 100 + i] ^= 0x5a;
    await expectFileError(
      (await openNpz(b, { name: "z.npz" })).read("sigma"),
      /^z\.npz: /,
      /corrupt|CRC-32 mismatch/,
    );
    // Declared compressed size shorter than the stream: truncated deflate data.
    b = compressed();
    let f = eocdFields(b);
    let p = f.cdOffset;
    for (let i = 0; i < 2; i++)
      p += 46 + f.dv.getUint16(p + 28, true) + f.dv.getUint16(p + 30, true) + f.dv.getUint16(p + 32, true);
    f.dv.setUint32(p + 20, sigma.compress_size - 5000, true);
    await expectFileError(
      (await openNpz(b, { name: "z.npz" })).read("sigma"),
      /deflated member 'sigma\.npy' is corrupt or truncated/,
    );
    // Declared uncompressed size smaller than the stream inflates to.
    b = compressed();
    f = eocdFields(b);
    p = f.cdOffset;
    for (let i = 0; i < 2; i++)
      p += 46 + f.dv.getUint16(p + 28, true) + f.dv.getUint16(p + 30, true) + f.dv.getUint16(p + 32, true);
    f.dv.setUint32(p + 24, 1000, true);
    await expectFileError(
      (await openNpz(b, { name: "z.npz" })).read("sigma"),
      /inflates to more than its declared 1000 bytes/,
    );
  });

  it("missing arrays and members are named", async () => {
    const npz = await openNpz(stored(), { name: "s.npz" });
    await expectFileError(
      npz.read("nope"),
      /no array named 'nope' \(arrays: arr_0, mu, sigma, mu_s, sigma_s\)/,
    );
  });
});
