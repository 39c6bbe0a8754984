// The emoji classifier: a small convolutional network trained on the emoji dataset (flowturbo
// train-classifier), whose penultimate features stand in for Inception's pool3 in a Frechet distance
// ("FD-emoji") and whose predictions measure class agreement of conditional samples. FID's Inception
// weights cannot be shipped with the repository; this network is trained by the repository's own code.
//
// Architecture (input 3x32x32 in [-1, 1]): conv3x3 stem, then stages at 32, 16, 8 and 4 pixels of
// [conv3x3 -> GroupNorm -> SiLU] x blocks, 2x2 average pooling between stages, global average pooling
// -> features (the last stage's width), Linear -> logits. All ops have gradients in @flowturbo/tensor.
import {
  appendTrainingStep,
  F,
  Graph,
  nn,
  op,
  Rng,
  Scope,
  Tensor,
  type TrainingStepOptions,
  type Value,
} from "@flowturbo/tensor";

/** The `kind` recorded in a classifier file's `flowturbo.config` metadata. */
export const EMOJI_CLASSIFIER_KIND = "emoji-classifier";

export interface EmojiClassifierConfig {
  /** Side of the square input images (32). */
  inputSize: number;
  /** Width of each stage; the last one is the feature dimension. Stage k runs at inputSize / 2^k. */
  widths: readonly number[];
  /** Conv blocks per stage. */
  blocks: readonly number[];
  /** GroupNorm groups (divides every width). */
  groups: number;
  numClasses: number;
}

/** The shipped classifier's size (models/emoji-classifier). */
export const EMOJI_CLASSIFIER_DEFAULTS: Omit<EmojiClassifierConfig, "numClasses"> = {
  inputSize: 32,
  widths: [32, 64, 128, 256],
  blocks: [1, 2, 2, 1],
  groups: 8,
};

export function checkClassifierConfig(c: EmojiClassifierConfig): void {
  if (c.widths.length !== c.blocks.length || c.widths.length < 1)
    throw new Error("emoji classifier: widths and blocks need one entry per stage");
  if (c.inputSize % 2 ** (c.widths.length - 1) !== 0)
    throw new Error(`emoji classifier: ${c.widths.length} stages do not fit a ${c.inputSize}-pixel input`);
  for (const w of c.widths)
    if (w % c.groups !== 0)
      throw new Error(`emoji classifier: width ${w} is not divisible into ${c.groups} groups`);
  if (c.blocks.some((b) => !Number.isInteger(b) || b < 1))
    throw new Error("emoji classifier: every stage needs at least one block");
}

/** The feature dimension (width of the last stage). */
export function classifierFeatureDim(c: EmojiClassifierConfig): number {
  return c.widths[c.widths.length - 1];
}

function convBlock(s: Scope, x: Value, width: number, groups: number): Value {
  const y = nn.conv2d(s.child("conv"), x, width, { kernel: 3, padding: 1 });
  return F.silu(nn.groupNorm(s.child("norm"), y, groups, { eps: 1e-5 }));
}

/** 2x2 average pooling written as reshape + mean (differentiable everywhere). */
function pool2(x: Value): Value {
  const [, c, h, w] = x.shape;
  const six = op.reshape(x, [0, c, h / 2, 2, w / 2, 2]);
  return op.reduceMean(six, [3, 5], false);
}

/**
 * The network on x [B, 3, S, S] in [-1, 1]: features [B, D] (after global average pooling) and logits
 * [B, numClasses]. Parameter names: stem.*, stages.<k>.<j>.{conv,norm}.*, head.*.
 */
export function emojiClassifierNetwork(
  s: Scope,
  x: Value,
  c: EmojiClassifierConfig,
): { features: Value; logits: Value } {
  checkClassifierConfig(c);
  let h = op.conv(
    x,
    s.child("stem").param("weight", [c.widths[0], x.shape[1], 3, 3]),
    s.child("stem").param("bias", [c.widths[0]]),
    { pads: [1, 1, 1, 1] },
  );
  h = F.silu(h);
  c.widths.forEach((width, k) => {
    if (k > 0) h = pool2(h);
    for (let j = 0; j < c.blocks[k]; j++) h = convBlock(s.child(`stages.${k}.${j}`), h, width, c.groups);
  });
  const features = op.reduceMean(h, [2, 3], false);
  const logits = nn.linear(s.child("head"), features, c.numClasses);
  return { features, logits };
}

/** How the inference graph takes its images. */
export type ClassifierInput = "uint8" | "float";

/**
 * Inference graph: input `x` uint8 NHWC [B, S, S, 3] (image files; scaled v / 127.5 - 1 as in training)
 * or float32 NCHW [B, 3, S, S] already in [-1, 1]; outputs `features` [B, D], `logits` [B, K] and
 * `probs` [B, K] (softmax).
 */
export function emojiClassifierGraph(
  c: EmojiClassifierConfig,
  batch: number,
  input: ClassifierInput = "uint8",
): Graph {
  const g = new Graph("emoji_classifier");
  const s = c.inputSize;
  let x: Value;
  if (input === "uint8") {
    const raw = g.input("x", "uint8", [batch, s, s, 3]);
    const f = op.sub(op.div(op.cast(raw, "float32"), 127.5), 1);
    x = op.transpose(f, [0, 3, 1, 2]);
  } else x = g.input("x", "float32", [batch, 3, s, s]);
  const { features, logits } = emojiClassifierNetwork(new Scope(g), x, c);
  g.output("features", features);
  g.output("logits", logits);
  g.output("probs", op.softmax(logits, -1));
  return g;
}

/** Cross-entropy with label smoothing: inputs x [B, 3, S, S] in [-1, 1] and y [B] int64; output `loss`. */
export function emojiClassifierObjective(
  c: EmojiClassifierConfig,
  batch: number,
  opts: { labelSmoothing?: number } = {},
): { graph: Graph; loss: Value } {
  const g = new Graph("emoji_classifier_training");
  const s = c.inputSize;
  const x = g.input("x", "float32", [batch, 3, s, s]);
  const y = g.input("y", "int64", [batch]);
  const { logits } = emojiClassifierNetwork(new Scope(g), x, c);
  const k = c.numClasses;
  const eps = opts.labelSmoothing ?? 0;
  const range = op.constant(
    g,
    Tensor.from(
      "int64",
      [1, k],
      Array.from({ length: k }, (_, i) => i),
    ),
  );
  const onehot = op.cast(op.equal(op.unsqueeze(y, [1]), range), "float32");
  const target = eps ? op.add(op.mul(onehot, 1 - eps), eps / k) : onehot;
  const m = op.reduceMax(logits, [1]);
  const shifted = op.sub(logits, m);
  const logp = op.sub(shifted, op.log(op.reduceSum(op.exp(shifted), [1])));
  const loss = op.reduceMean(op.neg(op.reduceSum(op.mul(target, logp), [1], false)), [0], false);
  g.output("loss", loss);
  return { graph: g, loss };
}

/** The objective plus backward and AdamW (trainable: every classifier parameter). */
export function emojiClassifierTrainingStep(
  c: EmojiClassifierConfig,
  batch: number,
  opts: TrainingStepOptions & { labelSmoothing?: number },
): { graph: Graph; loss: Value; trainable: string[] } {
  const obj = emojiClassifierObjective(c, batch, { labelSmoothing: opts.labelSmoothing });
  const { trainable } = appendTrainingStep(obj.graph, obj.loss, opts);
  return { ...obj, trainable };
}

/**
 * Initial weights, a pure function of (seed, parameter name): Kaiming-uniform convolutions (gain
 * sqrt(2), for SiLU), PyTorch's default Linear bound 1/sqrt(fan_in) for the head, zero biases, GroupNorm
 * weight 1 and bias 0.
 */
export function emojiClassifierInitialWeights(graph: Graph, seed: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, p] of graph.params) {
    const shape = p.value.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name.endsWith(".bias")) data = new Float32Array(n);
    else if (name.includes(".norm.")) data = new Float32Array(n).fill(1);
    else {
      const fanIn = n / shape[0];
      const bound = name.startsWith("head.") ? 1 / Math.sqrt(fanIn) : Math.sqrt(6 / fanIn);
      const u = new Rng(seed).stream(`init/${name}`).uniform(0, n);
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = (2 * u[i] - 1) * bound;
    }
    out.set(name, new Tensor("float32", shape, data));
  }
  return out;
}
