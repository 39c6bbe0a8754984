// Deterministic weights for tests: every parameter of a graph filled with scale * sin(freq * i + the
// parameter name's length), i the element index. No randomness: the same values in every run and engine.
import type { Graph } from "../src";
import { Tensor } from "../src";

export function sinWeights(g: Graph, o: { scale: number; freq?: number }): Map<string, Tensor> {
  const freq = o.freq ?? 1;
  const weights = new Map<string, Tensor>();
  for (const [k, p] of g.params) {
    const n = p.value.shape.reduce((a, b) => a * b, 1);
    weights.set(
      k,
      Tensor.from(
        "float32",
        p.value.shape,
        Array.from({ length: n }, (_, i) => o.scale * Math.sin(freq * i + k.length)),
      ),
    );
  }
  return weights;
}
