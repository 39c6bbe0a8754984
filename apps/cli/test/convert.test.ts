import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { loadCheckpoint } from "@flowturbo/sit";
import { readSafetensors, type Tensor } from "@flowturbo/tensor";
import { goldenPath } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-convert-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("flowturbo convert", () => {
  test("sit.pt -> ONNX + manifest that reproduces the golden forward", async () => {
    const out = join(dir, "sit.onnx");
    const r = await cli("convert", goldenPath("sit/sit.pt"), "-o", out, "--heads", "4", "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(EXIT.ok);
    const manifest = JSON.parse(await readFile(join(dir, "sit.json"), "utf8"));
    expect(manifest).toMatchObject({
      kind: "sit",
      dtype: "float32",
      source: { file: "sit.pt", format: "pt" },
    });
    expect(manifest.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.config).toMatchObject({ hiddenSize: 64, depth: 2, numHeads: 4, patchSize: 2 });
    expect(manifest.onnx).toEqual({
      file: "sit.onnx",
      externalData: null,
      inputs: ["x", "t", "y"],
      outputs: ["v"],
    });
    // the converted file carries its architecture
    const back = await loadCheckpoint(new Uint8Array(await readFile(out)));
    expect(back.config).toEqual(manifest.config);
    expect(manifest.parameters).toBe([...back.weights.values()].reduce((n, t) => n + t.size, 0));
    // and runs the golden case in ORT
    const golden = (
      await readSafetensors(new Uint8Array(await readFile(goldenPath("sit/sit_forward/case.safetensors"))))
    ).tensors;
    const backend = createNodeBackend();
    const session = await backend.load(out);
    const v = (await session.run({ x: golden.get("x")!, t: golden.get("t")!, y: golden.get("y")! }))
      .v as Tensor;
    const ref = golden.get("out")!.toFloat64();
    const got = v.toFloat64();
    expect(Math.max(...ref.map((x, i) => Math.abs(x - got[i])))).toBeLessThan(1e-4);
    await backend.close();
  });

  test("refiner.pt converts to float16 from the 'model' entry", async () => {
    const out = join(dir, "refiner16.onnx");
    const r = await cli(
      "convert",
      goldenPath("sit/refiner.pt"),
      "-o",
      out,
      "--heads",
      "4",
      "--dtype",
      "float16",
    );
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/refiner depth 1 width 64/);
    const manifest = JSON.parse(await readFile(join(dir, "refiner16.json"), "utf8"));
    expect(manifest).toMatchObject({ kind: "refiner", dtype: "float16", source: { entry: "model" } });
    expect(manifest.onnx.inputs).toEqual(["x", "t", "v", "y"]);
  });

  test("errors name the file or flag", async () => {
    const missing = await cli("convert", join(dir, "nope.pt"), "-o", join(dir, "x.onnx"));
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.err).toMatch(/file not found: .*nope.pt/);
    const noOut = await cli("convert", goldenPath("sit/sit.pt"));
    expect(noOut.err).toMatch(/-o\/--out OUT.onnx is required/);
    const dtype = await cli(
      "convert",
      goldenPath("sit/sit.pt"),
      "-o",
      join(dir, "y.onnx"),
      "--dtype",
      "int8",
    );
    expect(dtype.err).toMatch(/--dtype must be float32 or float16, got 'int8'/);
    const heads = await cli("convert", goldenPath("sit/sit.pt"), "-o", join(dir, "z.onnx"));
    expect(heads.code).toBe(EXIT.usage); // the file needs a flag: a usage error
    expect(heads.err).toMatch(/sit.pt: hidden size 64 is not a standard SiT width.*--heads/);
    const notModel = await cli("convert", goldenPath("README.md"), "-o", join(dir, "w.onnx"));
    expect(notModel.err).toMatch(/README.md: not a .pt \(zip\), .safetensors or .onnx file/);
  });
});
