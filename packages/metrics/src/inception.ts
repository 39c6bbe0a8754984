// pytorch-fid's FID Inception network (torchvision Inception3 with pytorch-fid's FIDInceptionA/C/E
// patches, weights pt_inception-2015-12-05-6726825d.pth) as a tensor-op graph with parameters named
// like that state dict, plus the input pipelines of the two evaluation conventions.
import { formatShape, Graph, op, Scope, type Tensor, type Value } from "@flowturbo/tensor";

const BN_EPS = 1e-3;

/** How images enter the graph. */
export type InceptionInput =
  /** float32 [B, 3, H, W] in [0, 1], no quantization (FlowTurbo's convention: decoded samples as they are). */
  | "float"
  /** uint8 [B, H, W, 3] in [0, 255] (image files, ADM sample batches), cast to float and divided by 255. */
  | "uint8";

/**
 * Resize + normalization in front of the network:
 * - "pytorch-fid" (default): x in [0,1] -> bilinear resize to 299 (align_corners=False, no antialias,
 *   ONNX half_pixel) -> 2x - 1. Reproduces pytorch-fid (pinned by the inception_fid golden case).
 * - "tf": the preprocessing inside the TF graph classify_image_graph_def.pb that ADM's evaluator feeds
 *   at 'ExpandDims:0': values in [0,255] -> TF1 ResizeBilinear (align_corners=False,
 *   half_pixel_centers=False = ONNX "asymmetric") -> (x - 128) / 128, as torch-fidelity re-implements
 *   it. NOT verified against TensorFlow here (no golden vector): see the README.
 */
export type InceptionPreprocess = "pytorch-fid" | "tf";

export interface InceptionGraphOptions {
  /** Batch size the graph is built for (sessions are per shape; the extractor pads the last batch). */
  batch?: number;
  /** Input height/width (default 299: no resize). */
  height?: number;
  width?: number;
  input?: InceptionInput;
  preprocess?: InceptionPreprocess;
  /**
   * Extra outputs for debugging and golden tests: "resized" (after resize, before normalization, NCHW,
   * values in the input range), "conv2d_1a_3x3" (first conv block), "mixed_6d_branch1x1" (192 channels).
   */
  taps?: boolean;
}

/** Graph outputs: pool3 [B, 2048], spatial [B, 2023] (sFID), logits [B, 1008] (fc with bias), logits_nobias [B, 1008] (ADM's softmax input). */
export const INCEPTION_OUTPUTS = ["pool3", "spatial", "logits", "logits_nobias"] as const;
export type InceptionOutput = (typeof INCEPTION_OUTPUTS)[number];

type Pair = [number, number];
const pair = (v: number | Pair): Pair => (typeof v === "number" ? [v, v] : v);

/** BasicConv2d: Conv2d(bias=False) + BatchNorm2d(eps=1e-3, eval) + ReLU. */
function basicConv(
  s: Scope,
  x: Value,
  out: number,
  kernel: number | Pair,
  o: { stride?: number; padding?: number | Pair } = {},
): Value {
  const [kh, kw] = pair(kernel);
  const [ph, pw] = pair(o.padding ?? 0);
  const stride = o.stride ?? 1;
  const w = s.param("conv.weight", [out, x.shape[1], kh, kw]);
  const y = op.conv(x, w, undefined, { strides: [stride, stride], pads: [ph, pw, ph, pw] });
  const bn = s.child("bn");
  // eval BatchNorm as y * a + b with a = weight / sqrt(var + eps), b = bias - mean * a (per channel)
  const a = op.div(bn.param("weight", [out]), op.sqrt(op.add(bn.param("running_var", [out]), BN_EPS)));
  const b = op.sub(bn.param("bias", [out]), op.mul(bn.param("running_mean", [out]), a));
  const shape = [out, 1, 1];
  return op.relu(op.add(op.mul(y, op.reshape(a, shape)), op.reshape(b, shape)));
}

const avgPool3 = (x: Value) => op.averagePool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] });
const maxPool3s2 = (x: Value) => op.maxPool(x, { kernel: [3, 3], strides: [2, 2] });

/** FIDInceptionA (Mixed_5b/5c/5d): avg pool without padded cells in the pool branch. */
function inceptionA(s: Scope, x: Value, poolFeatures: number): Value {
  const b1 = basicConv(s.child("branch1x1"), x, 64, 1);
  let b5 = basicConv(s.child("branch5x5_1"), x, 48, 1);
  b5 = basicConv(s.child("branch5x5_2"), b5, 64, 5, { padding: 2 });
  let b3 = basicConv(s.child("branch3x3dbl_1"), x, 64, 1);
  b3 = basicConv(s.child("branch3x3dbl_2"), b3, 96, 3, { padding: 1 });
  b3 = basicConv(s.child("branch3x3dbl_3"), b3, 96, 3, { padding: 1 });
  const bp = basicConv(s.child("branch_pool"), avgPool3(x), poolFeatures, 1);
  return op.concat([b1, b5, b3, bp], 1);
}

/** InceptionB (Mixed_6a). */
function inceptionB(s: Scope, x: Value): Value {
  const b3 = basicConv(s.child("branch3x3"), x, 384, 3, { stride: 2 });
  let bd = basicConv(s.child("branch3x3dbl_1"), x, 64, 1);
  bd = basicConv(s.child("branch3x3dbl_2"), bd, 96, 3, { padding: 1 });
  bd = basicConv(s.child("branch3x3dbl_3"), bd, 96, 3, { stride: 2 });
  return op.concat([b3, bd, maxPool3s2(x)], 1);
}

/** FIDInceptionC (Mixed_6b..6e); returns the block output and its branch1x1 (sFID's feature at 6d). */
function inceptionC(s: Scope, x: Value, c7: number): { out: Value; branch1x1: Value } {
  const b1 = basicConv(s.child("branch1x1"), x, 192, 1);
  let b7 = basicConv(s.child("branch7x7_1"), x, c7, 1);
  b7 = basicConv(s.child("branch7x7_2"), b7, c7, [1, 7], { padding: [0, 3] });
  b7 = basicConv(s.child("branch7x7_3"), b7, 192, [7, 1], { padding: [3, 0] });
  let bd = basicConv(s.child("branch7x7dbl_1"), x, c7, 1);
  bd = basicConv(s.child("branch7x7dbl_2"), bd, c7, [7, 1], { padding: [3, 0] });
  bd = basicConv(s.child("branch7x7dbl_3"), bd, c7, [1, 7], { padding: [0, 3] });
  bd = basicConv(s.child("branch7x7dbl_4"), bd, c7, [7, 1], { padding: [3, 0] });
  bd = basicConv(s.child("branch7x7dbl_5"), bd, 192, [1, 7], { padding: [0, 3] });
  const bp = basicConv(s.child("branch_pool"), avgPool3(x), 192, 1);
  return { out: op.concat([b1, b7, bd, bp], 1), branch1x1: b1 };
}

/** InceptionD (Mixed_7a). */
function inceptionD(s: Scope, x: Value): Value {
  let b3 = basicConv(s.child("branch3x3_1"), x, 192, 1);
  b3 = basicConv(s.child("branch3x3_2"), b3, 320, 3, { stride: 2 });
  let b7 = basicConv(s.child("branch7x7x3_1"), x, 192, 1);
  b7 = basicConv(s.child("branch7x7x3_2"), b7, 192, [1, 7], { padding: [0, 3] });
  b7 = basicConv(s.child("branch7x7x3_3"), b7, 192, [7, 1], { padding: [3, 0] });
  b7 = basicConv(s.child("branch7x7x3_4"), b7, 192, 3, { stride: 2 });
  return op.concat([b3, b7, maxPool3s2(x)], 1);
}

/** FIDInceptionE_1 (Mixed_7b, avg pool without padding cells) / FIDInceptionE_2 (Mixed_7c, max pool). */
function inceptionE(s: Scope, x: Value, pool: "avg" | "max"): Value {
  const b1 = basicConv(s.child("branch1x1"), x, 320, 1);
  const b3 = basicConv(s.child("branch3x3_1"), x, 384, 1);
  const b3a = basicConv(s.child("branch3x3_2a"), b3, 384, [1, 3], { padding: [0, 1] });
  const b3b = basicConv(s.child("branch3x3_2b"), b3, 384, [3, 1], { padding: [1, 0] });
  let bd = basicConv(s.child("branch3x3dbl_1"), x, 448, 1);
  bd = basicConv(s.child("branch3x3dbl_2"), bd, 384, 3, { padding: 1 });
  const bda = basicConv(s.child("branch3x3dbl_3a"), bd, 384, [1, 3], { padding: [0, 1] });
  const bdb = basicConv(s.child("branch3x3dbl_3b"), bd, 384, [3, 1], { padding: [1, 0] });
  const pooled =
    pool === "avg" ? avgPool3(x) : op.maxPool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] });
  const bp = basicConv(s.child("branch_pool"), pooled, 192, 1);
  return op.concat([b1, op.concat([b3a, b3b], 1), op.concat([bda, bdb], 1), bp], 1);
}

/**
 * Input pipeline: the graph input as declared by `input`, resized to 299x299 and normalized as the
 * convention says. Returns the network input and the resized image (before normalization).
 */
export function inceptionPreprocess(
  x: Value,
  input: InceptionInput,
  preprocess: InceptionPreprocess,
): { normalized: Value; resized: Value } {
  let img: Value;
  if (input === "uint8") {
    // NHWC uint8 -> NCHW float32 in [0,1] (pytorch-fid: ToTensor) or [0,255] (TF graph)
    img = op.transpose(op.cast(x, "float32"), [0, 3, 1, 2]);
    if (preprocess === "pytorch-fid") img = op.div(img, 255);
  } else {
    img = x;
    if (preprocess === "tf") img = op.mul(img, 255);
  }
  const [, , h, w] = img.shape;
  let resized = img;
  if (h !== 299 || w !== 299) {
    resized = op.resize(img, [img.shape[0], 3, 299, 299], {
      mode: "linear",
      coordinateTransformation: preprocess === "tf" ? "asymmetric" : "half_pixel",
    });
  }
  const normalized =
    preprocess === "tf" ? op.mul(op.sub(resized, 128), 1 / 128) : op.sub(op.mul(resized, 2), 1);
  return { normalized, resized };
}

export interface InceptionTrunk {
  pool3: Value;
  mixed6dBranch1x1: Value;
  conv1a: Value;
}

/** The network from its normalized 299x299 input to pool3 ([B, 2048, 1, 1] before flattening). */
export function fidInceptionTrunk(s: Scope, x: Value): InceptionTrunk {
  const conv1a = basicConv(s.child("Conv2d_1a_3x3"), x, 32, 3, { stride: 2 });
  let h = basicConv(s.child("Conv2d_2a_3x3"), conv1a, 32, 3);
  h = basicConv(s.child("Conv2d_2b_3x3"), h, 64, 3, { padding: 1 });
  h = maxPool3s2(h);
  h = basicConv(s.child("Conv2d_3b_1x1"), h, 80, 1);
  h = basicConv(s.child("Conv2d_4a_3x3"), h, 192, 3);
  h = maxPool3s2(h);
  h = inceptionA(s.child("Mixed_5b"), h, 32);
  h = inceptionA(s.child("Mixed_5c"), h, 64);
  h = inceptionA(s.child("Mixed_5d"), h, 64);
  h = inceptionB(s.child("Mixed_6a"), h);
  h = inceptionC(s.child("Mixed_6b"), h, 128).out;
  h = inceptionC(s.child("Mixed_6c"), h, 160).out;
  const m6d = inceptionC(s.child("Mixed_6d"), h, 160);
  h = inceptionC(s.child("Mixed_6e"), m6d.out, 192).out;
  h = inceptionD(s.child("Mixed_7a"), h);
  h = inceptionE(s.child("Mixed_7b"), h, "avg");
  h = inceptionE(s.child("Mixed_7c"), h, "max");
  return { pool3: op.globalAveragePool(h), mixed6dBranch1x1: m6d.branch1x1, conv1a };
}

/**
 * The FID Inception graph: input "x" (see `InceptionInput`), outputs pool3 [B, 2048] (FID features),
 * spatial [B, 2023] (channels 0..6 of Mixed_6d.branch1x1, flattened in HWC order: ADM's sFID feature
 * 'mixed_6/conv' [..., :7]), logits [B, 1008] (fc(pool3) with bias, as torchvision's Inception3) and
 * logits_nobias [B, 1008] (pool3 @ fc.weight^T: the input of ADM's Inception-Score softmax).
 * Parameters are named like pt_inception-2015-12-05-6726825d.pth (566 keys less the 94
 * num_batches_tracked counters, which eval mode never reads).
 */
export function fidInceptionGraph(options: InceptionGraphOptions = {}): Graph {
  const batch = options.batch ?? 1;
  const height = options.height ?? 299;
  const width = options.width ?? 299;
  const input = options.input ?? "float";
  const preprocess = options.preprocess ?? "pytorch-fid";
  const g = new Graph(`fid_inception_${input}_${height}x${width}`);
  const x =
    input === "uint8"
      ? g.input("x", "uint8", [batch, height, width, 3])
      : g.input("x", "float32", [batch, 3, height, width]);
  const s = new Scope(g);
  const { normalized, resized } = inceptionPreprocess(x, input, preprocess);
  const trunk = fidInceptionTrunk(s, normalized);
  const pool3 = op.reshape(trunk.pool3, [0, 2048]);
  g.output("pool3", pool3);
  const first7 = op.slice(trunk.mixed6dBranch1x1, { starts: [0], ends: [7], axes: [1] });
  g.output("spatial", op.reshape(op.transpose(first7, [0, 2, 3, 1]), [0, 17 * 17 * 7]));
  const fcw = s.param("fc.weight", [1008, 2048]);
  const nobias = op.matmul(pool3, op.transpose(fcw, [1, 0]));
  g.output("logits", op.add(nobias, s.param("fc.bias", [1008])));
  g.output("logits_nobias", nobias);
  if (options.taps) {
    g.output("resized", resized);
    g.output("conv2d_1a_3x3", trunk.conv1a);
    g.output("mixed_6d_branch1x1", trunk.mixed6dBranch1x1);
  }
  return g;
}

/** Total parameter count of the FID Inception with fc (matches the golden case's 23,850,960). */
export const FID_INCEPTION_PARAMETERS = 23_850_960;

/**
 * Takes the parameters of the FID Inception out of a state dict (e.g. stateDict of
 * pt_inception-2015-12-05-6726825d.pth): drops BatchNorm's num_batches_tracked counters, checks every
 * other key and shape against the graph, and names the first problems (a SiT or VAE checkpoint is
 * recognized as such).
 */
export function inceptionWeights(
  graph: Graph,
  stateDict: ReadonlyMap<string, Tensor>,
  file = "state dict",
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const problems: string[] = [];
  for (const [name, t] of stateDict) {
    if (name.endsWith(".num_batches_tracked")) continue;
    if (!graph.params.has(name)) {
      problems.push(`unexpected key '${name}'`);
      continue;
    }
    out.set(name, t);
  }
  for (const [name, p] of graph.params) {
    const t = stateDict.get(name);
    if (!t) problems.push(`missing key '${name}' (expected ${formatShape(p.value.shape)})`);
    else if (formatShape(t.shape) !== formatShape(p.value.shape)) {
      problems.push(`'${name}': expected shape ${formatShape(p.value.shape)}, found ${formatShape(t.shape)}`);
    } else if (t.dtype !== "float32") {
      problems.push(`'${name}': expected float32, found ${t.dtype}`);
    }
  }
  if (problems.length) {
    const keys = [...stateDict.keys()];
    const hint = keys.some((k) => k.startsWith("blocks.") || k === "pos_embed")
      ? " (this looks like a SiT/refiner checkpoint, not the FID Inception)"
      : keys.some((k) => k.startsWith("decoder.") || k.startsWith("encoder."))
        ? " (this looks like a VAE checkpoint, not the FID Inception)"
        : "";
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
    throw new Error(
      `${file}: not the FID Inception weights (pt_inception-2015-12-05-6726825d.pth)${hint}: ${problems.slice(0, 5).join("; ")}${more}`,
    );
  }
  return out;
}
