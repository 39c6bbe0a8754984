import { zeroBombZip } from "@flowturbo/test-support";
import { describe, expect, it } from "vitest";
import {
  encodeZip,
  maxInflatedSize,
  loadTorchCheckpoint,
  openSafetensors,
  openZip,
  stateDict,
  TORCH_ALLOWED_GLOBALS,
  TensorFileError,
  type ZipWriteEntry,
} from "../../src/io/index";
import type { Tensor } from "../../src/tensor";
import { asciiBytes, bytesOf, expectFileError, expectSameBytes, fixture, PickleWriter, rng } from "./helpers";

async function safetensorsOf(name: string): Promise<Map<string, Tensor>> {
  return (await openSafetensors(fixture(name), { name })).tensors();
}

function expectSameStateDict(actual: Map<string, Tensor>, expected: Map<string, Tensor>) {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [k, t] of expected) {
    const a = actual.get(k)!;
    expect(a.dtype, k).toBe(t.dtype);
    expect(a.shape, k).toEqual(t.shape);
    expectSameBytes(a.data, t.data, k);
  }
}

/** A torch-style zip: <top>/data.pkl, <top>/data/<key> storages, <top>/version. */
function torchZip(
  pkl: Uint8Array,
  storages: Record<string, ArrayBufferView>,
  top = "archive",
  extra: ZipWriteEntry[] = [],
) {
  return encodeZip([
    { name: `${top}/data.pkl`, data: pkl },
    ...extra,
    ...Object.entries(storages).map(([k, d]) => ({ name: `${top}/data/${k}`, data: bytesOf(d) })),
    { name: `${top}/version`, data: asciiBytes("3\n") },
  ]);
}

describe("PyTorch checkpoint reader: golden fixtures", () => {
  it("sit.pt equals sit.safetensors bitwise", async () => {
    const ckpt = await loadTorchCheckpoint(fixture("sit/sit.pt"), { name: "sit.pt" });
    expect(ckpt).toBeInstanceOf(Map);
    const sd = stateDict(ckpt);
    expect(sd.size).toBe(32);
    const expected = await safetensorsOf("sit/sit.safetensors");
    expectSameStateDict(sd, expected);
    // State-dict order is the pickle's (module registration order).
    expect([...sd.keys()].slice(0, 3)).toEqual([
      "pos_embed",
      "x_embedder.proj.weight",
      "x_embedder.proj.bias",
    ]);
  });

  it('refiner.pt holds {"model","ema","args"}; model and ema equal refiner.safetensors bitwise', async () => {
    const ckpt = (await loadTorchCheckpoint(fixture("sit/refiner.pt"), { name: "refiner.pt" })) as Map<
      string,
      unknown
    >;
    expect([...ckpt.keys()]).toEqual(["model", "ema", "args"]);
    expect(ckpt.get("args")).toEqual(new Map([["note", "golden refiner"]]));
    expect(ckpt.get("ema")).toBe(ckpt.get("model")); // the same OrderedDict in this file
    const expected = await safetensorsOf("sit/refiner.safetensors");
    expectSameStateDict(stateDict(ckpt, "model"), expected);
    expectSameStateDict(stateDict(ckpt, "ema"), expected);
    expect(() => stateDict(ckpt, "optimizer")).toThrow(/no entry 'optimizer' \(entries: model, ema, args\)/);
    expect(() => stateDict(ckpt, "args")).toThrow(/no tensors found under 'args'/);
  });

  it("reads the storages the pickle references, each once", async () => {
    const bytes = fixture("sit/sit.pt");
    const zip = await openZip(bytes);
    const storageBytes = zip.entries
      .filter((e) => e.name.startsWith("sit/data/"))
      .reduce((s, e) => s + e.size, 0);
    let read = 0;
    await loadTorchCheckpoint({
      size: bytes.length,
      name: "sit.pt",
      read: async (o, n) => {
        read += n;
        return bytes.subarray(o, o + n);
      },
    });
    expect(read).toBeGreaterThanOrEqual(storageBytes);
    expect(read).toBeLessThan(storageBytes + 20_000);
  });
});

describe("PyTorch checkpoint reader: crafted checkpoints", () => {
  const floats = Float32Array.from({ length: 24 }, (_, i) => i);
  const longs = BigInt64Array.from([10n, 11n, 12n, 13n, 14n, 15n]);
  const bf16 = Uint16Array.from([0x3f80, 0xc000, 0x3f00]); // 1, -2, 0.5
  const bools = Uint8Array.from([1, 0, 1]);
  const halfs = Uint16Array.from([0x3c00, 0xc000]); // 1, -2

  function craftedPickle(): Uint8Array {
    const w = new PickleWriter();
    w.emptyDict().mark();
    w.str("model").global("collections", "OrderedDict").emptyTuple().reduce().mark();
    w.str("transposed").tensor("FloatStorage", "0", 24, 2, [2, 3], [1, 2]);
    w.str("expanded").tensor("FloatStorage", "0", 24, 4, [3, 4], [0, 1]);
    w.str("slice").tensor("FloatStorage", "0", 24, 5, [4], [1]);
    w.str("permuted").tensor("FloatStorage", "0", 24, 1, [2, 2, 2], [12, 1, 3]);
    w.str("unit_dims").tensor("FloatStorage", "0", 24, 10, [1, 4], [99, 1]);
    w.str("scalar").tensor("FloatStorage", "0", 24, 7, [], []);
    w.str("empty").tensor("FloatStorage", "0", 24, 0, [0, 3], [3, 1]);
    w.str("long_t").tensor("LongStorage", "1", 6, 1, [2, 2], [1, 2]);
    w.str("bf16").tensor("BFloat16Storage", "2", 3, 0, [3], [1]);
    w.str("bf16_strided").tensor("BFloat16Storage", "2", 3, 0, [2], [2]);
    w.str("mask").tensor("BoolStorage", "3", 3, 0, [3], [1]);
    w.str("half").tensor("HalfStorage", "4", 2, 0, [2], [1]);
    w.str("param").global("torch._utils", "_rebuild_parameter").mark();
    w.tensor("FloatStorage", "0", 24, 0, [24], [1])
      .true()
      .global("collections", "OrderedDict")
      .emptyTuple()
      .reduce();
    w.tuple().reduce();
    w.setitems();
    // args = argparse.Namespace(lr=1e-4, depth=2, name="x") via NEWOBJ + BUILD.
    w.str("args").global("argparse", "Namespace").emptyTuple().newobj().emptyDict();
    w.str("lr").float(1e-4).setitem().str("depth").int(2).setitem().str("name").str("x").setitem().build();
    w.str("steps").mark().int(1).int(2).tuple();
    w.setitems();
    return w.stop();
  }

  it("materializes strided, offset, expanded and 0-d views; BF16 -> float32; parameters; Namespace", async () => {
    const bytes = torchZip(craftedPickle(), { 0: floats, 1: longs, 2: bf16, 3: bools, 4: halfs }, "my_model");
    const ckpt = (await loadTorchCheckpoint(bytes, { name: "crafted.pt" })) as Map<string, unknown>;
    const sd = stateDict(ckpt, "model");
    const values = (k: string) => [...sd.get(k)!.data];
    expect(values("transposed")).toEqual([2, 4, 6, 3, 5, 7]);
    expect(values("expanded")).toEqual([4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7]);
    expect(values("slice")).toEqual([5, 6, 7, 8]);
    expect(values("permuted")).toEqual([1, 4, 2, 5, 13, 16, 14, 17]);
    expect(values("unit_dims")).toEqual([10, 11, 12, 13]);
    expect(sd.get("scalar")!.shape).toEqual([]);
    expect(values("scalar")).toEqual([7]);
    expect(sd.get("empty")!.shape).toEqual([0, 3]);
    expect(sd.get("long_t")!.dtype).toBe("int64");
    expect(values("long_t")).toEqual([11n, 13n, 12n, 14n]);
    expect(sd.get("bf16")!.dtype).toBe("float32");
    expect(values("bf16")).toEqual([1, -2, 0.5]);
    expect(values("bf16_strided")).toEqual([1, 0.5]);
    expect(sd.get("mask")!.dtype).toBe("bool");
    expect(values("mask")).toEqual([1, 0, 1]);
    expect(sd.get("half")!.dtype).toBe("float16");
    expect(values("half")).toEqual([0x3c00, 0xc000]);
    expect(values("param")).toEqual([...floats]);
    expect(sd.get("transposed")!.shape).toEqual([2, 3]);
    expect(ckpt.get("args")).toEqual({ lr: 1e-4, depth: 2, name: "x" });
    expect(ckpt.get("steps")).toEqual([1, 2]);
  });

  it("refuses globals outside the allow-list inside a checkpoint, naming them", async () => {
    const evil = (module: string, name: string) =>
      new PickleWriter().global(module, name).mark().str("touch /tmp/pwned").tuple().reduce().stop();
    for (const [m, n] of [
      ["posix", "system"],
      ["os", "system"],
      ["torch", "load"],
      ["torch.storage", "_load_from_bytes"],
      ["torch._utils", "_import_dotted_name"],
      ["torch", "CharStorage"],
      ["builtins", "exec"],
      ["numpy.core.multiarray", "_reconstruct"],
    ]) {
      await expectFileError(
        loadTorchCheckpoint(torchZip(evil(m, n), {}), { name: "evil.pt" }),
        /^evil\.pt \(archive\/data\.pkl\): /,
        `refusing global '${m}.${n}'`,
      );
    }
  });

  it("accepts exactly the documented allow-list", async () => {
    for (const full of TORCH_ALLOWED_GLOBALS) {
      const dot = full.lastIndexOf(".");
      const pkl = new PickleWriter().global(full.slice(0, dot), full.slice(dot + 1)).stop();
      await expect(loadTorchCheckpoint(torchZip(pkl, {}), { name: "g.pt" }), full).resolves.toBeDefined();
    }
    for (const full of [
      "torch._utils._rebuild_qtensor",
      "torch.Tensor",
      "torch.nn.modules.linear.Linear",
      "collections.Counter",
    ]) {
      const dot = full.lastIndexOf(".");
      const pkl = new PickleWriter().global(full.slice(0, dot), full.slice(dot + 1)).stop();
      await expectFileError(
        loadTorchCheckpoint(torchZip(pkl, {}), { name: "g.pt" }),
        `refusing global '${full}'`,
      );
    }
  });

  it("errors on bad views, storages and layouts", async () => {
    const one = (storage: string, numel: number, offset: number, size: number[], stride: number[]) =>
      new PickleWriter().tensor(storage, "0", numel, offset, size, stride).stop();
    const name = { name: "v.pt" };
    await expectFileError(
      loadTorchCheckpoint(torchZip(one("FloatStorage", 24, 20, [2, 3], [3, 1]), { 0: floats }), name),
      /beyond the storage's 24/,
    );
    await expectFileError(
      loadTorchCheckpoint(torchZip(one("FloatStorage", 24, 0, [2, 3], [3]), { 0: floats }), name),
      /differ in rank/,
    );
    await expectFileError(
      loadTorchCheckpoint(
        torchZip(one("FloatStorage", 24, 0, [100000, 100000], [0, 0]), { 0: floats }),
        name,
      ),
      /too large to materialize/,
    );
    await expectFileError(
      loadTorchCheckpoint(torchZip(one("FloatStorage", 24, 0, [4], [1]), {}), name),
      /storage record 'archive\/data\/0' is missing/,
    );
    await expectFileError(
      loadTorchCheckpoint(torchZip(one("FloatStorage", 25, 0, [4], [1]), { 0: floats }), name),
      /storage record 'archive\/data\/0' has 96 bytes, expected 25 x 4 = 100/,
    );
    const badPid = new PickleWriter().mark().str("module").str("x").tuple().binpersid().stop();
    await expectFileError(loadTorchCheckpoint(torchZip(badPid, {}), name), /unsupported persistent id/);
    await expectFileError(
      loadTorchCheckpoint(
        torchZip(one("FloatStorage", 24, 0, [4], [1]), { 0: floats }, "archive", [
          { name: "archive/byteorder", data: asciiBytes("big") },
        ]),
        name,
      ),
      /byte order is 'big'/,
    );
    await expectFileError(
      loadTorchCheckpoint(encodeZip([{ name: "weights/model.bin", data: new Uint8Array(4) }]), name),
      /no '<folder>\/data\.pkl' record/,
    );
    // Works with byteorder "little" and any top folder name.
    const ok = await loadTorchCheckpoint(
      torchZip(one("FloatStorage", 24, 0, [4], [1]), { 0: floats }, "whatever-name", [
        { name: "whatever-name/byteorder", data: asciiBytes("little") },
      ]),
    );
    expect([...(ok as Tensor).data]).toEqual([0, 1, 2, 3]);
  });
});

describe("PyTorch checkpoint reader: corrupted files", () => {
  it("truncated sit.pt at various offsets: clear error naming the file", async () => {
    const b = fixture("sit/sit.pt");
    for (const cut of [0, 1, 2, 4, 30, 100, 4000, 500_000, b.length - 2000, b.length - 23, b.length - 1]) {
      await expectFileError(loadTorchCheckpoint(b.subarray(0, cut), { name: "sit.pt" }), /^sit\.pt: /);
    }
  });

  it("bad signatures, legacy format, corrupt storage and pickle bytes", async () => {
    let b = fixture("sit/sit.pt");
    b[0] = 0x58;
    await expectFileError(loadTorchCheckpoint(b, { name: "sit.pt" }), /not a PyTorch zip checkpoint/);
    await expectFileError(
      loadTorchCheckpoint(Uint8Array.of(0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc), { name: "old.pt" }),
      /legacy .* not supported/,
    );
    const zip = await openZip(fixture("sit/sit.pt"));
    const storage = zip.entry("sit/data/3");
    const pkl = zip.entry("sit/data.pkl");
    b = fixture("sit/sit.pt");
    b[(await zip.dataOffset(storage)) + 1000] ^= 0x40;
    await expectFileError(
      loadTorchCheckpoint(b, { name: "sit.pt" }),
      /^sit\.pt: CRC-32 mismatch in member 'sit\/data\/3'/,
    );
    b = fixture("sit/sit.pt");
    b[(await zip.dataOffset(pkl)) + 100] ^= 0x40;
    await expectFileError(
      loadTorchCheckpoint(b, { name: "sit.pt" }),
      /CRC-32 mismatch in member 'sit\/data\.pkl'/,
    );
    b = fixture("sit/sit.pt");
    b[storage.localHeaderOffset] = 0;
    await expectFileError(
      loadTorchCheckpoint(b, { name: "sit.pt" }),
      /bad zip signature in the local header of 'sit\/data\/3'/,
    );
  });

  it("a data.pkl that inflates (or only claims to inflate) to GBs is refused before anything is inflated", async () => {
    // a real bomb: 300 MiB of zeros in about 300 kB, more than any checkpoint's pickle needs
    const bomb = await zeroBombZip("archive/data.pkl", 300 << 20);
    expect(bomb.length).toBeLessThan(1 << 20);
    await expectFileError(
      loadTorchCheckpoint(bomb, { name: "bomb.pt" }),
      /^bomb\.pt: member 'archive\/data\.pkl' declares 314572800 bytes; at most 268435456 are expected/,
    );
    // a declared size deflate cannot reach from the compressed bytes (4 GiB from 1 MiB of zeros' ~1 kB)
    const liar = await zeroBombZip("archive/data.pkl", 1 << 20, 0xfffffffe);
    await expectFileError(
      loadTorchCheckpoint(liar, { name: "liar.pt" }),
      /deflated member 'archive\/data\.pkl' declares 4294967294 bytes, more than deflate can give from \d+ compressed bytes/,
    );
    // the bound holds for what deflate really does (zeros: its best case)
    const real = await openZip(bomb);
    expect(real.entries[0].size).toBeLessThanOrEqual(maxInflatedSize(real.entries[0].compressedSize));
  });

  it("randomly corrupted data.pkl (CRC check off): a value or a TensorFileError, never a crash", async () => {
    const zip = await openZip(fixture("sit/sit.pt"));
    const pkl = zip.entry("sit/data.pkl");
    const start = await zip.dataOffset(pkl);
    const base = fixture("sit/sit.pt");
    const rand = rng(99);
    for (let trial = 0; trial < 150; trial++) {
      const b = base.slice();
      for (let k = 0; k < 3; k++) b[start + Math.floor(rand() * pkl.size)] = Math.floor(rand() * 256);
      try {
        await loadTorchCheckpoint(b, { name: "fuzz.pt", checkCrc: false });
      } catch (err) {
        if (!(err instanceof TensorFileError)) throw new Error(`trial ${trial}: ${(err as Error).stack}`);
      }
    }
  });
});
