// The pieces every flow-matching objective of the family shares (the base model's and the refiner's):
// the linear path, label dropout to the null class, and the per-sample mean squared error.
import { type Graph, op, Tensor, type Value } from "@flowturbo/tensor";

/** x_t = t x1 + (1 - t) x0, with t [B] broadcast over [B, C, H, W]. */
export function linearPath(t: Value, x1: Value, x0: Value, batch: number): Value {
  const tb = op.reshape(t, [batch, 1, 1, 1]);
  return op.add(op.mul(tb, x1), op.mul(op.sub(1, tb), x0));
}

/** Labels y [B] with the dropped ones (drop [B] bool) replaced by the null class `numClasses`. */
export function dropLabels(g: Graph, y: Value, drop: Value, numClasses: number): Value {
  return op.where(drop, op.constant(g, Tensor.from("int64", [], [numClasses])), y);
}

export interface Objective {
  graph: Graph;
  loss: Value;
  lossPerSample: Value;
}

/** loss = mean_b mean_chw (pred - target)^2, with outputs "loss" and "loss_per_sample". */
export function mseObjective(g: Graph, pred: Value, target: Value): Objective {
  const diff = op.sub(pred, target);
  const lossPerSample = op.reduceMean(op.mul(diff, diff), [1, 2, 3], false);
  const loss = op.reduceMean(lossPerSample, [0], false);
  g.output("loss", loss);
  g.output("loss_per_sample", lossPerSample);
  return { graph: g, loss, lossPerSample };
}
