// Base-model (SiT) training objective: flow matching on the linear path with velocity prediction
// (docs/FLOWTURBO.md section 1), as one training-step graph.
import {
  appendTrainingStep,
  Graph,
  op,
  Scope,
  Tensor,
  type TrainingStepOptions,
  type Value,
} from "@flowturbo/tensor";
import type { SiTConfig } from "../../config";
import { sitNetwork } from "../../network";

export interface BaseObjective {
  graph: Graph;
  loss: Value;
  lossPerSample: Value;
}

/**
 * The SiT training objective on inputs x1 (data) [B,C,H,W], x0 (noise) [B,C,H,W], t [B] in [0,1),
 * y [B] int64 and drop [B] bool (label replaced by the null class `numClasses`):
 *   x_t = t x1 + (1-t) x0;  pred = SiT(x_t, t, y_m);  target = x1 - x0
 *   loss = mean_b mean_chw (pred - target)^2
 * Parameters carry the plain SiT state-dict names (no prefix), so trained weights are a SiT checkpoint.
 */
export function baseObjective(cfg: SiTConfig, batch: number): BaseObjective {
  const g = new Graph("base_training");
  const c = cfg.keepChannels;
  if (cfg.inChannels !== c)
    throw new Error(`base objective: inChannels ${cfg.inChannels} must equal keepChannels ${c}`);
  const s = cfg.inputSize;
  const x1 = g.input("x1", "float32", [batch, c, s, s]);
  const x0 = g.input("x0", "float32", [batch, c, s, s]);
  const t = g.input("t", "float32", [batch]);
  const y = g.input("y", "int64", [batch]);
  const drop = g.input("drop", "bool", [batch]);
  const tb = op.reshape(t, [batch, 1, 1, 1]);
  const xt = op.add(op.mul(tb, x1), op.mul(op.sub(1, tb), x0));
  const yDrop = op.where(drop, op.constant(g, Tensor.from("int64", [], [cfg.numClasses])), y);
  const pred = sitNetwork(new Scope(g), xt, t, yDrop, cfg);
  const diff = op.sub(pred, op.sub(x1, x0));
  const lossPerSample = op.reduceMean(op.mul(diff, diff), [1, 2, 3], false);
  const loss = op.reduceMean(lossPerSample, [0], false);
  g.output("loss", loss);
  g.output("loss_per_sample", lossPerSample);
  return { graph: g, loss, lossPerSample };
}

/** Default optimizer of base training: AdamW lr 1e-4, no weight decay (SiT's recipe). */
export const BASE_TRAINING_DEFAULTS = { lr: 1e-4, weightDecay: 0 } as const;

/** The base objective plus backward and AdamW (defaults: SiT's lr 1e-4, no weight decay). */
export function baseTrainingStep(
  cfg: SiTConfig,
  batch: number,
  opts: Partial<TrainingStepOptions> = {},
): BaseObjective & { trainable: string[] } {
  const obj = baseObjective(cfg, batch);
  const { trainable } = appendTrainingStep(obj.graph, obj.loss, { ...BASE_TRAINING_DEFAULTS, ...opts });
  return { ...obj, trainable };
}
