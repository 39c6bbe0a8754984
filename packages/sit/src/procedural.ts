// Deterministic weights for any SiT/refiner graph without a file (benchmarks, size checks, tests):
// the golden set's procedural rule with scale 1/sqrt(fan_in) for matrices, 0.02 for vectors, and
// SiT's real sin-cos pos_embed.
import { type Graph, proceduralTensor, type Tensor } from "@flowturbo/tensor";
import { sincosPosEmbed } from "./network";

export function proceduralWeights(graph: Graph): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, p] of graph.params) {
    const shape = p.value.shape;
    if (name === "pos_embed") {
      out.set(name, sincosPosEmbed(shape[2], Math.round(Math.sqrt(shape[1]))));
      continue;
    }
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    out.set(name, proceduralTensor(name, shape, shape.length > 1 ? 1 / Math.sqrt(fanIn) : 0.02, 0));
  }
  return out;
}
