// SiT's initialize_weights (adaLN-Zero): Xavier-uniform linears and patch embedding, zero biases,
// N(0, 0.02) label table and timestep MLP, zero adaLN modulations and final linear, fixed sin-cos
// pos_embed. Every value is a pure function of (seed, parameter name) through the counter RNG.
import { type Graph, Rng, Tensor } from "@flowturbo/tensor";
import { sincosPosEmbed } from "../network";

/** RNG stream of the initial weights: `init/<key>` (key without the graph prefix). */
export const INIT_STREAM_PREFIX = "init/";

export interface InitOptions {
  seed: number;
  /** Only parameters under this prefix (e.g. "refiner"); keys of the result keep the full name. */
  prefix?: string;
}

function uniform(seed: number, key: string, n: number, bound: number): Float32Array {
  const u = new Rng(seed).stream(`${INIT_STREAM_PREFIX}${key}`).uniform(0, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * u[i] - 1) * bound;
  return out;
}

function normal(seed: number, key: string, n: number, std: number): Float32Array {
  const z = new Rng(seed).stream(`${INIT_STREAM_PREFIX}${key}`).normal(0, n);
  for (let i = 0; i < n; i++) z[i] *= std;
  return z;
}

/** The initial value of one SiT/refiner parameter, by its state-dict key. */
export function sitInitTensor(key: string, shape: readonly number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (key === "pos_embed") return sincosPosEmbed(shape[2], Math.round(Math.sqrt(shape[1])));
  const zero = () => new Tensor("float32", shape, new Float32Array(n));
  // adaLN-Zero: every modulation and the final projection start at zero
  if (key.includes("adaLN_modulation") || key.startsWith("final_layer.linear")) return zero();
  if (key.endsWith(".bias")) return zero();
  if (key === "y_embedder.embedding_table.weight")
    return new Tensor("float32", shape, normal(seed, key, n, 0.02));
  if (key.startsWith("t_embedder.mlp.")) return new Tensor("float32", shape, normal(seed, key, n, 0.02));
  if (key.endsWith(".weight") && shape.length >= 2) {
    // nn.Linear [out, in] and the patch conv viewed as [out, in*p*p]: Xavier uniform
    const fanOut = shape[0];
    const fanIn = n / fanOut;
    return new Tensor("float32", shape, uniform(seed, key, n, Math.sqrt(6 / (fanIn + fanOut))));
  }
  throw new Error(`sitInit: no initialisation rule for parameter '${key}' ${JSON.stringify(shape)}`);
}

/** Initial weights of every parameter of `graph` (under `prefix` if given), SiT's rules. */
export function sitInitialWeights(graph: Graph, opts: InitOptions): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const pre = opts.prefix ? `${opts.prefix}.` : "";
  for (const [name, p] of graph.params) {
    if (!name.startsWith(pre)) continue;
    out.set(name, sitInitTensor(name.slice(pre.length), p.value.shape, opts.seed));
  }
  return out;
}
