import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeSafetensors, interpret, Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import {
  checkStateDict,
  detectFormat,
  inferConfig,
  loadCheckpoint,
  nonFiniteWeights,
  ONNX_CONFIG_KEY,
  sitGraph,
} from "../src";
import { FIXTURES, loadCase, sameTensors } from "./golden";

const bytes = async (name: string) => new Uint8Array(await readFile(join(FIXTURES, name)));

describe("checkpoints", () => {
  test("formats are recognized by their first bytes", async () => {
    expect(await detectFormat(await bytes("sit.pt"))).toBe("pt");
    expect(await detectFormat(await bytes("sit.safetensors"))).toBe("safetensors");
    await expect(detectFormat(new TextEncoder().encode("hello world"), "notes.txt")).rejects.toThrow(
      /notes.txt: not a .pt/,
    );
  });

  test("sit.pt and sit.safetensors give identical weights, config and outputs", async () => {
    const pt = await loadCheckpoint(await bytes("sit.pt"), { file: "sit.pt", heads: 4 });
    const st = await loadCheckpoint(await bytes("sit.safetensors"), { file: "sit.safetensors", heads: 4 });
    expect(pt.kind).toBe("sit");
    expect(pt.config).toEqual(st.config);
    expect(pt.config).toMatchObject({
      inputSize: 8,
      patchSize: 2,
      hiddenSize: 64,
      depth: 2,
      numHeads: 4,
      numClasses: 1000,
      outChannels: 8,
    });
    sameTensors(pt.weights, st.weights);
    const { tensors } = await loadCase("sit_forward");
    const g = sitGraph(pt.config, { batch: 3 });
    const feeds = { x: tensors.get("x")!, t: tensors.get("t")!, y: tensors.get("y")! };
    const a = interpret(g, feeds, { weights: pt.weights }).v.toFloat64();
    const b = interpret(g, feeds, { weights: st.weights }).v.toFloat64();
    expect(a).toEqual(b);
  });

  test("clear errors: wrong kind, missing and unexpected keys, shape mismatch, non-standard width", async () => {
    const vae = new Map([["decoder.conv_in.weight", Tensor.zeros("float32", [512, 4, 3, 3])]]);
    expect(() => inferConfig(vae, { file: "vae.safetensors" })).toThrow(
      /vae.safetensors: missing key 'x_embedder.proj.weight'.*looks like a VAE checkpoint/,
    );
    const sit = await loadCheckpoint(await bytes("sit.safetensors"), { heads: 4 });
    const g = sitGraph(sit.config);
    const broken = new Map(sit.weights);
    broken.delete("blocks.1.attn.proj.bias");
    broken.set("blocks.1.extra", Tensor.zeros("float32", [3]));
    broken.set("final_layer.linear.bias", Tensor.zeros("float32", [31]));
    expect(() => checkStateDict(g, broken, "sit.safetensors")).toThrow(
      /sit.safetensors: missing key 'blocks.1.attn.proj.bias' \(expected \[64\]\); 'final_layer.linear.bias': expected shape \[32\], found \[31\]; unexpected key 'blocks.1.extra'/,
    );
    // width 96 is not in the standard table: heads must be given
    const wide = new Map<string, Tensor>();
    for (const [k, t] of sit.weights)
      wide.set(
        k,
        Tensor.zeros(
          "float32",
          t.shape.map((d) => (d === 64 ? 96 : d)),
        ),
      );
    const file = encodeSafetensors(wide);
    await expect(loadCheckpoint(file, { file: "wide.safetensors" })).rejects.toThrow(
      /wide.safetensors: hidden size 96 .*--heads/,
    );
    expect((await loadCheckpoint(file, { heads: 6 })).config.numHeads).toBe(6);
    // a truncated checkpoint names the file
    const pt = await bytes("sit.pt");
    await expect(
      loadCheckpoint(pt.subarray(0, pt.length - 100), { file: "cut.pt", heads: 4 }),
    ).rejects.toThrow(/cut.pt/);
  });
});

describe("recorded architecture", () => {
  test("a safetensors file with the config in its metadata needs no --heads", async () => {
    const st = await loadCheckpoint(await bytes("sit.safetensors"), { heads: 4 });
    const file = encodeSafetensors(st.weights, {
      metadata: { [ONNX_CONFIG_KEY]: JSON.stringify({ kind: "sit", config: st.config }) },
    });
    const back = await loadCheckpoint(file);
    expect(back.config).toEqual(st.config);
    expect(back.kind).toBe("sit");
  });

  test("recorded sizes are checked against the tensors before anything is built from them", async () => {
    const st = await loadCheckpoint(await bytes("sit.safetensors"), { heads: 4 });
    const withMeta = (meta: string) =>
      loadCheckpoint(encodeSafetensors(st.weights, { metadata: { [ONNX_CONFIG_KEY]: meta } }), {
        file: "edited.safetensors",
      });
    const edited = (patch: object) =>
      withMeta(JSON.stringify({ kind: "sit", config: { ...st.config, ...patch } }));
    await expect(edited({ depth: 100000 })).rejects.toThrow(
      /^edited\.safetensors: metadata 'flowturbo\.config' does not match the weights: depth 100000 recorded, 2 in the tensors$/,
    );
    await expect(edited({ inputSize: 400000, numClasses: 1e9 })).rejects.toThrow(
      /inputSize 400000 recorded, 8 in the tensors; numClasses 1000000000 recorded, 1000 in the tensors/,
    );
    await expect(edited({ numHeads: 3 })).rejects.toThrow(/hidden size 64 is not divisible by 3 heads/);
    await expect(withMeta('{"kind": "sit", config: {}}')).rejects.toThrow(
      /^edited\.safetensors: metadata 'flowturbo\.config' is not valid JSON \(/,
    );
    await expect(withMeta('{"kind": "vae", "config": {}}')).rejects.toThrow(
      /records a 'vae' model, not a SiT or a refiner/,
    );
  });

  test("a JSON-array safetensors header is named as such, not taken for ONNX", async () => {
    const header = new TextEncoder().encode("[1,2,3] ");
    const file = new Uint8Array(8 + header.length);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    expect(await detectFormat(file)).toBe("safetensors");
    await expect(loadCheckpoint(file, { file: "array.safetensors" })).rejects.toThrow(
      /array\.safetensors: safetensors header is not a JSON object/,
    );
  });

  test("an entry of a training wrapper is refused for files that have none", async () => {
    await expect(
      loadCheckpoint(await bytes("sit.safetensors"), { file: "sit.safetensors", heads: 4, entry: "ema" }),
    ).rejects.toThrow(/sit\.safetensors: entry 'ema' applies to \.pt training checkpoints/);
    await expect(
      loadCheckpoint(await bytes("sit.pt"), { file: "sit.pt", heads: 4, entry: "ema" }),
    ).rejects.toThrow(
      /sit\.pt: no \{"model", "ema"\} entries \(a plain state dict\): entry 'ema' does not apply/,
    );
  });

  test("nonFiniteWeights names the tensors holding NaN or infinity", async () => {
    const st = await loadCheckpoint(await bytes("sit.safetensors"), { heads: 4 });
    expect(nonFiniteWeights(st.weights)).toEqual([]);
    const w = new Map(st.weights);
    const t = w.get("final_layer.linear.weight")!;
    const x = t.toFloat32().slice();
    x[3] = Number.NaN;
    x[7] = Number.POSITIVE_INFINITY;
    w.set("final_layer.linear.weight", new Tensor("float32", t.shape, x));
    expect(nonFiniteWeights(w)).toEqual([{ name: "final_layer.linear.weight", count: 2 }]);
  });
});
