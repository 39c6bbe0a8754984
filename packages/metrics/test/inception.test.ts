import { createNodeBackend } from "@flowturbo/backend-node";
import { Graph, interpret, op, Scope, Tensor } from "@flowturbo/tensor";
import { FULL_TIER } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fidInceptionGraph, fidInceptionTrunk, InceptionExtractor, inceptionWeights } from "../src";
import { inceptionProceduralWeights, loadCase, relMaxError, rng } from "./golden";

// Golden tolerance (golden README): float32 network outputs within 1e-4 relative to the largest
// reference magnitude.
const TOL = 1e-4;

const node = createNodeBackend({ worker: false });
afterAll(() => node.close());

let weights: Map<string, Tensor>;
let golden: Map<string, Tensor>;
let meta: Record<string, unknown>;
beforeAll(async () => {
  const c = await loadCase("inception/inception_fid");
  golden = c.tensors;
  meta = c.meta;
  weights = await inceptionProceduralWeights();
});

describe("FID Inception graph structure", () => {
  test("parameters are the .pth's keys and shapes (less num_batches_tracked); torch parameter count", () => {
    const g = fidInceptionGraph({ batch: 1 });
    const keys = (meta.state_dict_keys as [string, number[]][]).filter(
      ([k]) => !k.endsWith("num_batches_tracked"),
    );
    expect(g.params.size).toBe(keys.length);
    for (const [k, shape] of keys) expect(g.params.get(k)?.value.shape, k).toEqual(shape);
    // torch counts parameters without the BN running statistics
    let torchParams = 0;
    for (const [k, p] of g.params)
      if (!k.includes("running_")) torchParams += p.value.shape.reduce((a, b) => a * b, 1);
    expect(torchParams).toBe((meta.param_count as Record<string, number>)["fid_inception_v3 (incl. fc)"]);
  });

  test("inceptionWeights: drops num_batches_tracked, names wrong checkpoints", () => {
    const g = fidInceptionGraph({ batch: 1 });
    const sd = new Map(weights);
    sd.set("Conv2d_1a_3x3.bn.num_batches_tracked", Tensor.from("int64", [], [0]));
    expect(inceptionWeights(g, sd, "pt_inception.pth").size).toBe(472);
    const sit = new Map([["pos_embed", Tensor.zeros("float32", [1, 4, 8])]]);
    expect(() => inceptionWeights(g, sit, "sit.pt")).toThrow(
      /sit\.pt: not the FID Inception weights .*SiT\/refiner checkpoint.*unexpected key 'pos_embed'.*missing key/,
    );
    const bad = new Map(weights);
    bad.set("fc.weight", Tensor.zeros("float32", [1000, 2048]));
    expect(() => inceptionWeights(g, bad)).toThrow(
      /'fc.weight': expected shape \[1008, 2048\], found \[1000, 2048\]/,
    );
  });
});

describe("golden inception_fid through ORT CPU (the whole network)", () => {
  test("resized, conv1a, Mixed_6d branch1x1, sFID spatial, pool3 and logits within 1e-4", async () => {
    const g = fidInceptionGraph({ batch: 2, height: 64, width: 64, taps: true });
    const s = await node.load({ graph: g, weights: inceptionWeights(g, weights) });
    const out = (await s.run({ x: golden.get("x")! })) as Record<string, Tensor>;
    await s.release();
    const check = (name: string, ref: string) => {
      expect(out[name].shape, name).toEqual(golden.get(ref)!.shape);
      const e = relMaxError(out[name].toFloat64(), golden.get(ref)!.toFloat64());
      expect(e, name).toBeLessThan(TOL);
    };
    check("resized", "resized");
    check("mixed_6d_branch1x1", "mixed_6d_branch1x1");
    check("spatial", "sfid_spatial");
    check("pool3", "pool3");
    check("logits", "logits");
    const conv = out.conv2d_1a_3x3.toFloat64().subarray(0, 4 * 149 * 149);
    expect(relMaxError(conv, golden.get("conv2d_1a_3x3_img0_ch0to3")!.toFloat64())).toBeLessThan(TOL);
    // logits_nobias = logits - fc.bias
    const bias = weights.get("fc.bias")!.toFloat64();
    const nb = out.logits_nobias.toFloat64();
    const lg = out.logits.toFloat64();
    let err = 0;
    for (let i = 0; i < nb.length; i++) err = Math.max(err, Math.abs(nb[i] + bias[i % 1008] - lg[i]));
    expect(err).toBeLessThan(1e-5);
  });
});

describe("the float64 interpreter (cheaper checks; the whole network takes minutes: full tier)", () => {
  test("golden resize to 299 and Conv2d_1a_3x3 (first block) within 1e-4", () => {
    const g = fidInceptionGraph({ batch: 2, height: 64, width: 64, taps: true });
    const outs = new Map(g.outputs.map((o) => [o.name, o.value]));
    const r = interpret(
      g,
      { x: golden.get("x")! },
      { weights, fetch: [outs.get("resized")!, outs.get("conv2d_1a_3x3")!] },
    );
    expect(relMaxError(r["0"].toFloat64(), golden.get("resized")!.toFloat64())).toBeLessThan(TOL);
    expect(
      relMaxError(
        r["1"].toFloat64().subarray(0, 4 * 149 * 149),
        golden.get("conv2d_1a_3x3_img0_ch0to3")!.toFloat64(),
      ),
    ).toBeLessThan(TOL);
  });

  test("whole trunk at 75x75: interpreter and ORT CPU agree", async () => {
    const g = new Graph("trunk75");
    const x = g.input("x", "float32", [1, 3, 75, 75]);
    const t = fidInceptionTrunk(new Scope(g), x);
    g.output("pool3", op.reshape(t.pool3, [0, 2048]));
    g.output("m6d", t.mixed6dBranch1x1);
    const r = rng(5);
    const input = new Tensor(
      "float32",
      [1, 3, 75, 75],
      Float32Array.from({ length: 3 * 75 * 75 }, () => 2 * r() - 1),
    );
    const w = new Map([...weights].filter(([k]) => g.params.has(k)));
    const ref = interpret(g, { x: input }, { weights: w });
    const s = await node.load({ graph: g, weights: w });
    const got = (await s.run({ x: input })) as Record<string, Tensor>;
    await s.release();
    expect(relMaxError(got.pool3.toFloat64(), ref.pool3.toFloat64())).toBeLessThan(TOL);
    expect(relMaxError(got.m6d.toFloat64(), ref.m6d.toFloat64())).toBeLessThan(TOL);
  });

  test.skipIf(!FULL_TIER)("golden inception_fid through the interpreter (whole network)", () => {
    const g = fidInceptionGraph({ batch: 2, height: 64, width: 64 });
    const out = interpret(g, { x: golden.get("x")! }, { weights });
    expect(relMaxError(out.pool3.toFloat64(), golden.get("pool3")!.toFloat64())).toBeLessThan(TOL);
    expect(relMaxError(out.spatial.toFloat64(), golden.get("sfid_spatial")!.toFloat64())).toBeLessThan(TOL);
    expect(relMaxError(out.logits.toFloat64(), golden.get("logits")!.toFloat64())).toBeLessThan(TOL);
  });
});

/** TF1 ResizeBilinear (align_corners=False, half_pixel_centers=False) of one HWC image, per channel. */
function tf1Resize(img: Float64Array, h: number, w: number, oh: number, ow: number): Float64Array {
  const out = new Float64Array(3 * oh * ow); // CHW
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < oh; y++) {
      const sy = (y * h) / oh;
      const y0 = Math.floor(sy);
      const y1 = Math.min(y0 + 1, h - 1);
      const fy = sy - y0;
      for (let x = 0; x < ow; x++) {
        const sx = (x * w) / ow;
        const x0 = Math.floor(sx);
        const x1 = Math.min(x0 + 1, w - 1);
        const fx = sx - x0;
        const p = (yy: number, xx: number) => img[(yy * w + xx) * 3 + c];
        const top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * fx;
        const bot = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * fx;
        out[(c * oh + y) * ow + x] = top + (bot - top) * fy;
      }
    }
  }
  return out;
}

describe("input conventions", () => {
  test("uint8 NHWC input equals the float pipeline on u8/255 (pytorch-fid on image files)", async () => {
    const x = golden.get("x")!.data as Float32Array; // [2,3,64,64]
    const u8 = new Uint8Array(2 * 64 * 64 * 3);
    const f = new Float32Array(2 * 3 * 64 * 64);
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 64 * 64; i++) {
          const v = Math.round(x[(b * 3 + c) * 4096 + i] * 255);
          u8[(b * 4096 + i) * 3 + c] = v;
          f[(b * 3 + c) * 4096 + i] = Math.fround(v / 255);
        }
    const ex = new InceptionExtractor(node, weights, { batchSize: 2 });
    const a = await ex.extract({ kind: "uint8", data: u8, count: 2, height: 64, width: 64 });
    const b = await ex.extract({ kind: "float", data: f, count: 2, height: 64, width: 64 });
    await ex.release();
    expect(relMaxError(a.pool3, b.pool3)).toBeLessThan(1e-6);
    expect(relMaxError(a.spatial, b.spatial)).toBeLessThan(1e-6);
    // quantization moves the features a little, but they stay close to the unquantized golden
    expect(relMaxError(a.pool3, golden.get("pool3")!.toFloat64())).toBeLessThan(1e-2);
  });

  test("extractor: zero-padded last batch gives the same features as one big batch", async () => {
    const r = rng(11);
    const data = Uint8Array.from({ length: 5 * 20 * 24 * 3 }, () => Math.floor(r() * 256));
    const small = new InceptionExtractor(node, weights, { batchSize: 2 });
    const big = new InceptionExtractor(node, weights, { batchSize: 5 });
    const batch = { kind: "uint8" as const, data, count: 5, height: 20, width: 24 };
    const a = await small.extract(batch, { withBiasLogits: true });
    const b = await big.extract(batch, { withBiasLogits: true });
    await small.release();
    await big.release();
    expect(a.pool3.length).toBe(5 * 2048);
    expect(relMaxError(a.pool3, b.pool3)).toBeLessThan(1e-6);
    expect(relMaxError(a.spatial, b.spatial)).toBeLessThan(1e-6);
    expect(relMaxError(a.logits!, b.logits!)).toBeLessThan(1e-6);
    expect(relMaxError(a.logitsNoBias, b.logitsNoBias)).toBeLessThan(1e-6);
    await expect(small.extract({ ...batch, count: 4 })).rejects.toThrow(/not 4 images of 24x20x3/);
  });

  test('"tf" preprocessing: TF1 ResizeBilinear (asymmetric) on [0,255], then (x - 128) / 128', () => {
    const r = rng(3);
    const h = 13;
    const w = 10;
    const u8 = Uint8Array.from({ length: h * w * 3 }, () => Math.floor(r() * 256));
    const g = fidInceptionGraph({
      batch: 1,
      height: h,
      width: w,
      input: "uint8",
      preprocess: "tf",
      taps: true,
    });
    const resized = g.outputs.find((o) => o.name === "resized")!.value;
    const out = interpret(g, { x: new Tensor("uint8", [1, h, w, 3], u8) }, { weights, fetch: [resized] });
    const ref = tf1Resize(Float64Array.from(u8), h, w, 299, 299);
    expect(relMaxError(out["0"].toFloat64(), ref)).toBeLessThan(1e-12);
  });
});
