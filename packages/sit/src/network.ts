// SiT (and the FlowTurbo refiner, same family) as a tensor-op graph, parameters named like the
// PyTorch state dict. Semantics: docs/FLOWTURBO.md section 2.
import { F, Graph, type GraphForm, nn, op, Scope, Tensor, type Value } from "@flowturbo/tensor";
import type { SiTConfig } from "./config";

/** SiT's fixed 2-D sin-cos positional table [1, T, D]: [sin(j w), cos(j w), sin(i w), cos(i w)]. */
export function sincosPosEmbed(hiddenSize: number, gridSize: number): Tensor {
  if (hiddenSize % 4 !== 0) throw new Error(`pos_embed: hidden size ${hiddenSize} is not divisible by 4`);
  const q = hiddenSize / 4;
  const out = new Float32Array(gridSize * gridSize * hiddenSize);
  for (let i = 0; i < gridSize; i++) {
    for (let j = 0; j < gridSize; j++) {
      const base = (i * gridSize + j) * hiddenSize;
      for (let m = 0; m < q; m++) {
        const w = 1 / 10000 ** (m / q);
        out[base + m] = Math.sin(j * w);
        out[base + q + m] = Math.cos(j * w);
        out[base + 2 * q + m] = Math.sin(i * w);
        out[base + 3 * q + m] = Math.cos(i * w);
      }
    }
  }
  return new Tensor("float32", [1, gridSize * gridSize, hiddenSize], out);
}

/** Sinusoidal timestep features [B, 256]: [cos(t f), sin(t f)], f_k = exp(-ln(10000) k / 128). */
export function timestepFeatures(t: Value, dim = 256): Value {
  const half = dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, k) => Math.exp((-Math.log(10000) * k) / half));
  const args = op.mul(op.unsqueeze(t, [1]), op.constant(t.graph, new Tensor("float32", [1, half], freqs)));
  return op.concat([op.cos(args), op.sin(args)], 1);
}

const modulate = (x: Value, shift: Value, scale: Value): Value =>
  op.add(op.mul(x, op.add(op.unsqueeze(scale, [1]), 1)), op.unsqueeze(shift, [1]));

/** Conditioning vector c = t_emb + y_emb, [B, D]. */
function conditioning(s: Scope, t: Value, y: Value, cfg: SiTConfig): Value {
  const te = s.child("t_embedder.mlp");
  const temb = nn.linear(
    te.child(2),
    F.silu(nn.linear(te.child(0), timestepFeatures(t), cfg.hiddenSize)),
    cfg.hiddenSize,
  );
  const yemb = op.gather(
    s.param("y_embedder.embedding_table.weight", [cfg.numClasses + 1, cfg.hiddenSize]),
    y,
    0,
  );
  return op.add(temb, yemb);
}

/** Options of the network body. */
export interface NetworkOptions {
  /**
   * "plain" (default): ONNX primitives only, for every runtime and for training. "fused": ONNX Runtime's
   * contrib ops (MultiHeadAttention, FastGelu with the fc1 bias) and the adaLN chunks as [B, 1, D] slices
   * of one reshape: about 40% fewer nodes, the same values (see GraphForm).
   */
  form?: GraphForm;
}

/** One adaLN-Zero DiT block, fused form: the same values as `block` in fewer nodes. */
function fusedBlock(s: Scope, x: Value, siluC: Value, cfg: SiTConfig): Value {
  const d = cfg.hiddenSize;
  const mod = op.reshape(nn.linear(s.child("adaLN_modulation.1"), siluC, 6 * d), [0, 1, 6 * d]);
  const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = op.split(mod, 6, 2);
  const mod3 = (h: Value, shift: Value, scale: Value) => op.add(op.mul(h, op.add(scale, 1)), shift);
  const attn = nn.attention(s.child("attn"), mod3(F.layerNorm(x, 1e-6), shiftMsa, scaleMsa), cfg.numHeads, {
    form: "fused",
  });
  x = op.add(x, op.mul(gateMsa, attn));
  const mlp = s.child("mlp");
  const fc1 = nn.linear(mlp.child("fc1"), mod3(F.layerNorm(x, 1e-6), shiftMlp, scaleMlp), cfg.mlpRatio * d, {
    bias: false,
  });
  const hidden = op.fastGelu(fc1, mlp.child("fc1").param("bias", [cfg.mlpRatio * d]));
  return op.add(x, op.mul(gateMlp, nn.linear(mlp.child("fc2"), hidden, d)));
}

/** One adaLN-Zero DiT block on tokens x [B, T, D]. */
function block(s: Scope, x: Value, c: Value, cfg: SiTConfig): Value {
  const d = cfg.hiddenSize;
  const mod = nn.linear(s.child("adaLN_modulation.1"), F.silu(c), 6 * d);
  const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = op.split(mod, 6, 1);
  const attn = nn.attention(
    s.child("attn"),
    modulate(F.layerNorm(x, 1e-6), shiftMsa, scaleMsa),
    cfg.numHeads,
  );
  x = op.add(x, op.mul(op.unsqueeze(gateMsa, [1]), attn));
  const mlp = s.child("mlp");
  const hidden = F.gelu(
    nn.linear(mlp.child("fc1"), modulate(F.layerNorm(x, 1e-6), shiftMlp, scaleMlp), cfg.mlpRatio * d),
    "tanh",
  );
  return op.add(x, op.mul(op.unsqueeze(gateMlp, [1]), nn.linear(mlp.child("fc2"), hidden, d)));
}

/**
 * SiT's x_embedder.proj (a Conv2d with kernel = stride = p, weight [d, C, p, p]) as patchify + MatMul:
 * x [B, C, H, W] -> tokens [B, (H/p)(W/p), d], token (i, j) = the patch at rows i*p.., columns j*p...
 * The same sums as the convolution; written this way because onnxruntime's WebGPU Conv returns wrong
 * values for some input channel counts (6 channels, e.g. a pixel-space refiner's [x, v]: see
 * apps/web's README), while MatMul is exact everywhere.
 */
export function patchEmbed(s: Scope, x: Value, d: number, p: number): Value {
  const [, C, H, W] = x.shape as number[];
  const gh = H / p;
  const gw = W / p;
  const w = s.param("weight", [d, C, p, p]);
  const b = s.param("bias", [d]);
  // [B, C, gh, p, gw, p] -> [B, gh, gw, C, p, p] -> [B, T, C*p*p] (the weight's (c, u, v) order)
  const patches = op.reshape(op.transpose(op.reshape(x, [0, C, gh, p, gw, p]), [0, 2, 4, 1, 3, 5]), [
    0,
    gh * gw,
    C * p * p,
  ]);
  return op.add(op.matmul(patches, op.transpose(op.reshape(w, [d, C * p * p]), [1, 0])), b);
}

/** Network body: input image-shaped x [B, C_in, H, W] -> [B, keepChannels, H, W]. */
export function sitNetwork(
  s: Scope,
  x: Value,
  t: Value,
  y: Value,
  cfg: SiTConfig,
  opts: NetworkOptions = {},
): Value {
  const { patchSize: p, hiddenSize: d, inputSize } = cfg;
  if (inputSize % p !== 0) throw new Error(`input size ${inputSize} is not divisible by patch size ${p}`);
  const grid = inputSize / p;
  const tokens = grid * grid;
  let h = patchEmbed(s.child("x_embedder.proj"), x, d, p);
  h = op.add(h, s.param("pos_embed", [1, tokens, d], { trainable: false }));
  const c = conditioning(s, t, y, cfg);
  const fused = opts.form === "fused";
  // the fused form computes SiLU(c), which every block's adaLN takes, once
  const siluC = fused ? F.silu(c) : undefined;
  for (let i = 0; i < cfg.depth; i++)
    h = siluC ? fusedBlock(s.child(`blocks.${i}`), h, siluC, cfg) : block(s.child(`blocks.${i}`), h, c, cfg);
  const fin = s.child("final_layer");
  const [shift, scale] = op.split(
    nn.linear(fin.child("adaLN_modulation.1"), siluC ?? F.silu(c), 2 * d),
    2,
    1,
  );
  h = nn.linear(fin.child("linear"), modulate(F.layerNorm(h, 1e-6), shift, scale), p * p * cfg.outChannels);
  // unpatchify: token (h, w), channel (u*p + v)*C + c -> pixel (c, h*p+u, w*p+v)
  const C = cfg.outChannels;
  const img = op.reshape(op.transpose(op.reshape(h, [0, grid, grid, p, p, C]), [0, 5, 1, 3, 2, 4]), [
    0,
    C,
    inputSize,
    inputSize,
  ]);
  return C === cfg.keepChannels ? img : op.slice(img, { starts: [0], ends: [cfg.keepChannels], axes: [1] });
}

export interface ModelGraphOptions extends NetworkOptions {
  /** Batch size of the static shapes (ONNX emission keeps the batch dynamic). */
  batch?: number;
}

/** SiT forward(x, t, y) -> velocity, as a graph with inputs x, t, y and output v. */
export function sitGraph(cfg: SiTConfig, opts: ModelGraphOptions = {}): Graph {
  const b = opts.batch ?? 1;
  const g = new Graph("sit");
  const dyn = { 0: "batch" };
  const x = g.input("x", "float32", [b, cfg.inChannels, cfg.inputSize, cfg.inputSize], dyn);
  const t = g.input("t", "float32", [b], dyn);
  const y = g.input("y", "int64", [b], dyn);
  g.output("v", sitNetwork(new Scope(g), x, t, y, cfg, { form: opts.form }), dyn);
  return g;
}
