// Base-model (SiT) training objective: flow matching on the linear path with velocity prediction
// (docs/FLOWTURBO.md section 1), as one training-step graph.
import { appendTrainingStep, Graph, op, Scope, type TrainingStepOptions } from "@flowturbo/tensor";
import type { SiTConfig } from "../../config";
import { sitNetwork } from "../../network";
import { dropLabels, linearPath, mseObjective, type Objective } from "./common";

export type BaseObjective = Objective;

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
  const xt = linearPath(t, x1, x0, batch);
  const pred = sitNetwork(new Scope(g), xt, t, dropLabels(g, y, drop, cfg.numClasses), cfg);
  return mseObjective(g, pred, op.sub(x1, x0));
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
