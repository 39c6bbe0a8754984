// From a state dict to a model: infer the architecture from weight shapes, check every key.
import { formatShape, type Graph, type Tensor } from "@flowturbo/tensor";
import { type SiTConfig, standardHeads } from "./config";

export type StateDict = ReadonlyMap<string, Tensor>;

export type ModelKind = "sit" | "refiner";

export interface InferOptions {
  /** File name for error messages. */
  file?: string;
  /** Attention heads for a width outside the standard table. */
  heads?: number;
  /** Force the kind when the shapes are ambiguous. */
  kind?: ModelKind;
}

export interface InferredModel {
  kind: ModelKind;
  config: SiTConfig;
}

function need(sd: StateDict, key: string, file: string, rank: number): Tensor {
  const t = sd.get(key);
  if (!t) {
    const hint = [...sd.keys()].some((k) => k.startsWith("decoder.") || k.startsWith("encoder."))
      ? " (this looks like a VAE checkpoint, not SiT or a refiner)"
      : [...sd.keys()].some((k) => k.startsWith("Mixed_") || k.startsWith("Conv2d_"))
        ? " (this looks like an Inception checkpoint, not SiT or a refiner)"
        : "";
    throw new Error(`${file}: missing key '${key}'; not a SiT/refiner state dict${hint}`);
  }
  if (t.rank !== rank)
    throw new Error(`${file}: '${key}' has shape ${formatShape(t.shape)}, expected ${rank} dimensions`);
  return t;
}

/** Reads depth, width, patch, input size, channels, classes and learn_sigma off the weight shapes. */
export function inferConfig(sd: StateDict, opts: InferOptions = {}): InferredModel {
  const file = opts.file ?? "state dict";
  const [hidden, inChannels, patch] = need(sd, "x_embedder.proj.weight", file, 4).shape;
  const tokens = need(sd, "pos_embed", file, 3).shape[1];
  const grid = Math.round(Math.sqrt(tokens));
  if (grid * grid !== tokens) throw new Error(`${file}: pos_embed has ${tokens} tokens, not a square grid`);
  const finalOut = need(sd, "final_layer.linear.weight", file, 2).shape[0];
  if (finalOut % (patch * patch) !== 0)
    throw new Error(`${file}: final_layer.linear.weight rows ${finalOut} are not a multiple of patch^2`);
  const outChannels = finalOut / (patch * patch);
  const table = need(sd, "y_embedder.embedding_table.weight", file, 2).shape[0];
  let depth = 0;
  while (sd.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  if (depth === 0) throw new Error(`${file}: no transformer blocks (missing 'blocks.0.attn.qkv.weight')`);
  const mlpRatio = need(sd, "blocks.0.mlp.fc1.weight", file, 2).shape[0] / hidden;
  const numHeads = opts.heads ?? standardHeads(hidden);
  if (!numHeads) {
    throw new Error(
      `${file}: hidden size ${hidden} is not a standard SiT width (1152, 1024, 768, 384): pass the number of attention heads (--heads)`,
    );
  }
  if (hidden % numHeads !== 0)
    throw new Error(`${file}: hidden size ${hidden} is not divisible by ${numHeads} heads`);
  // The refiner sees concat[x, v] (twice the channels it returns) and has one block; SiT's output has
  // as many channels as its input, or twice as many with learn_sigma.
  const refinerShaped =
    depth === 1 && inChannels % 2 === 0 && (outChannels === inChannels || 2 * outChannels === inChannels);
  const kind: ModelKind = opts.kind ?? (refinerShaped ? "refiner" : "sit");
  const keepChannels = kind === "refiner" ? inChannels / 2 : inChannels;
  return {
    kind,
    config: {
      inputSize: grid * patch,
      patchSize: patch,
      inChannels,
      outChannels,
      keepChannels,
      hiddenSize: hidden,
      depth,
      numHeads,
      numClasses: table - 1,
      mlpRatio,
    },
  };
}

/** Checks a state dict against a graph's parameters: names the first missing/unexpected key and any shape mismatch. */
export function checkStateDict(graph: Graph, sd: StateDict, file = "state dict"): void {
  const problems: string[] = [];
  for (const [name, p] of graph.params) {
    const t = sd.get(name);
    if (!t) problems.push(`missing key '${name}' (expected ${formatShape(p.value.shape)})`);
    else if (formatShape(t.shape) !== formatShape(p.value.shape)) {
      problems.push(`'${name}': expected shape ${formatShape(p.value.shape)}, found ${formatShape(t.shape)}`);
    }
  }
  for (const name of sd.keys()) if (!graph.params.has(name)) problems.push(`unexpected key '${name}'`);
  if (problems.length) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
    throw new Error(`${file}: ${problems.slice(0, 5).join("; ")}${more}`);
  }
}

/**
 * The floating-point weights that hold NaN or infinite values, with how many (such a model samples NaN,
 * which image writers turn into black pixels). Empty for a sound state dict.
 */
export function nonFiniteWeights(sd: StateDict): { name: string; count: number }[] {
  const out: { name: string; count: number }[] = [];
  for (const [name, t] of sd) {
    if (t.dtype !== "float32" && t.dtype !== "float64" && t.dtype !== "float16") continue;
    const x = t.dtype === "float16" ? t.toFloat32() : (t.data as Float32Array | Float64Array);
    let count = 0;
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) count++;
    if (count) out.push({ name, count });
  }
  return out;
}
