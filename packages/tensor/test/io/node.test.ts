import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { goldenPath } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSafetensors, safetensorsChunks, stateDict, TensorFileError } from "../../src/io/index";
import {
  fileSink,
  fileSource,
  loadTorchFile,
  openNpzFile,
  openSafetensorsWriter,
  readNpzFile,
  readSafetensorsFile,
  removeStaleTemps,
  saveNpzFile,
  saveSafetensorsFile,
  withFileSource,
  writeFileStreaming,
} from "../../src/node/index";
import { Tensor } from "../../src/tensor";
import { expectSameBytes } from "./helpers";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-io-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const arrays = () =>
  new Map<string, Tensor>([
    ["w", Tensor.from("float32", [2, 3], [1, 2, 3, 4, 5, 6])],
    ["ids", Tensor.from("int64", [2], [5n, -1n])],
    ["h", Tensor.from("float16", [1], [0.25])],
  ]);

describe("node file helpers", () => {
  it("fileSource reads ranges of a fixture; the torch and safetensors files agree", async () => {
    const sd = stateDict(await loadTorchFile(goldenPath("sit/sit.pt")));
    const { tensors } = await readSafetensorsFile(goldenPath("sit/sit.safetensors"));
    expect(sd.size).toBe(tensors.size);
    for (const [k, t] of tensors) expectSameBytes(sd.get(k)!.data, t.data, k);
    await withFileSource(goldenPath("sit/sit.safetensors"), async (src) => {
      expect(src.name).toBe("sit.safetensors");
      const f = await openSafetensors(src);
      expect((await f.tensor("pos_embed")).shape).toEqual([1, 16, 64]);
    });
  });

  it("streams safetensors and npz (forced ZIP64) to disk and reads them back", async () => {
    const st = join(dir, "a.safetensors");
    const size = await saveSafetensorsFile(st, arrays(), { metadata: { k: "v" } });
    expect((await readFile(st)).length).toBe(size);
    const back = await readSafetensorsFile(st);
    expect(back.metadata).toEqual({ k: "v" });
    for (const [k, t] of arrays()) expectSameBytes(back.tensors.get(k)!.data, t.data, k);

    const npz = join(dir, "a.npz");
    await saveNpzFile(npz, arrays(), { zip64: true });
    const read = await readNpzFile(npz, ["ids"]);
    expect([...read.keys()]).toEqual(["ids"]);
    expect([...read.get("ids")!.data]).toEqual([5n, -1n]);
    const { npz: file, close } = await openNpzFile(npz);
    try {
      expect(file.names).toEqual(["w", "ids", "h"]);
      expect((await file.read("w")).shape).toEqual([2, 3]);
    } finally {
      await close();
    }
  });

  it("fileSink writes atomically; an aborted write leaves nothing behind", async () => {
    const path = join(dir, "partial.safetensors");
    async function* failing() {
      yield* safetensorsChunks(arrays());
      throw new Error("producer failed");
    }
    await expect(writeFileStreaming(path, failing())).rejects.toThrow(/producer failed/);
    expect(existsSync(path)).toBe(false);
    expect((await readdir(dir)).filter((f) => f.startsWith("partial"))).toEqual([]);
    const sink = await fileSink(path);
    await sink.write(Uint8Array.of(1, 2, 3));
    expect(existsSync(path)).toBe(false);
    await sink.close();
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
  });

  it("openSafetensorsWriter streams pieces into the same bytes as the whole-tensor writer", async () => {
    const whole = join(dir, "whole.safetensors");
    await saveSafetensorsFile(whole, arrays(), { metadata: { k: "v" } });
    const streamed = join(dir, "streamed.safetensors");
    const specs = [...arrays()].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
    const w = await openSafetensorsWriter(streamed, specs, { metadata: { k: "v" } });
    const a = arrays();
    await w.append("w", a.get("w")!.sliceRows(1, 2).data); // rows in order, tensors in any order
    await expect(w.close()).rejects.toThrow(/incomplete/);
    expect(existsSync(streamed)).toBe(false);
    const v = await openSafetensorsWriter(streamed, specs, { metadata: { k: "v" } });
    await v.append("w", a.get("w")!.sliceRows(0, 1).data);
    await v.append("ids", a.get("ids")!.data);
    await v.append("w", a.get("w")!.sliceRows(1, 2).data);
    await expect(v.append("ids", a.get("ids")!.data)).rejects.toThrow(/more data for 'ids'/);
    await v.append("h", a.get("h")!.data);
    await v.close();
    expect(Buffer.compare(await readFile(streamed), await readFile(whole))).toBe(0);
    expect((await readdir(dir)).filter((f) => f.startsWith("streamed.") && f.endsWith(".tmp"))).toEqual([]);
  });

  it("a write whose final rename fails (a folder in the way) leaves no temporary file", async () => {
    const path = join(dir, "taken");
    await mkdir(path);
    await expect(writeFileStreaming(path, [Uint8Array.of(1)])).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.startsWith("taken."))).toEqual([]);
  });

  it("removeStaleTemps removes the temporary files of killed writers only", async () => {
    const path = join(dir, "checkpoint.safetensors");
    const dead = `${path}.2147483646.m0abc.tmp`; // no such process
    const live = `${path}.${process.pid}.m0abd.tmp`; // a write in progress
    const other = join(dir, "other.safetensors.2147483646.m0abc.tmp");
    for (const f of [dead, live, other]) await writeFile(f, "x");
    expect(await removeStaleTemps(path)).toEqual([dead]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live) && existsSync(other)).toBe(true);
  });

  it("errors from a truncated file on disk name the file", async () => {
    const path = join(dir, "cut.safetensors");
    const full = await readFile(goldenPath("sit/sit.safetensors"));
    await writeFileStreaming(path, [full.subarray(0, 5000)]);
    const src = await fileSource(path);
    try {
      await expect(openSafetensors(src)).rejects.toThrow(TensorFileError);
      await expect(openSafetensors(src)).rejects.toThrow(/^cut\.safetensors: truncated/);
    } finally {
      await src.close();
    }
  });
});
