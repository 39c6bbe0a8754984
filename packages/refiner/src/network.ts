// The refiner forward pass: SiT's network on concat[x, v] with the refiner's own weights.
import { Graph, op, Scope } from "@flowturbo/tensor";
import { type ModelGraphOptions, type SiTConfig, sitNetwork } from "@flowturbo/sit";

/**
 * The FlowTurbo refiner forward(x, t, v, y) -> raw delta v (the caller adds v), as a graph with inputs
 * x, t, v, y and output delta_v. `cfg` is the refiner's own config (see refinerConfig).
 */
export function refinerGraph(cfg: SiTConfig, opts: ModelGraphOptions = {}): Graph {
  const b = opts.batch ?? 1;
  const g = new Graph("refiner");
  const dyn = { 0: "batch" };
  const c = cfg.inChannels / 2;
  const x = g.input("x", "float32", [b, c, cfg.inputSize, cfg.inputSize], dyn);
  const t = g.input("t", "float32", [b], dyn);
  const v = g.input("v", "float32", [b, c, cfg.inputSize, cfg.inputSize], dyn);
  const y = g.input("y", "int64", [b], dyn);
  g.output("delta_v", sitNetwork(new Scope(g), op.concat([x, v], 1), t, y, cfg, { form: opts.form }), dyn);
  return g;
}
