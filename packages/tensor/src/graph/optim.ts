// Training-step construction on the IR: gradients of a loss, optional global-norm clipping, AdamW
// (PyTorch semantics), optional EMA: all appended to the graph as ordinary ops.
import { gradients } from "./grad";
import type { Graph, Value } from "./ir";
import * as op from "./ops";

export interface TrainingStepOptions {
  /** Learning rate; with `lrInput` the peak of a schedule (the step's value comes in as input `lr`). */
  lr: number;
  /** Take the learning rate from a float32 scalar input `lr` each step (schedules); `lr` is then unused. */
  lrInput?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (PyTorch AdamW: p *= 1 - lr*wd before the Adam update). */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm (torch.nn.utils.clip_grad_norm_ semantics). */
  maxGradNorm?: number;
  /** Keep an exponential moving average of the parameters with this decay. */
  emaDecay?: number;
  /** Also output each gradient as `grad/<name>` (for checks and logging). */
  outputGradients?: boolean;
}

/** Names of the graph inputs and outputs a training step adds, per trainable parameter. */
export const STEP_IO = {
  /** Input: 1-based step number (float32 scalar) for Adam's bias correction. */
  step: "step",
  /** Input (with `lrInput`): this step's learning rate (float32 scalar). */
  lr: "lr",
  m: (p: string) => `adam_m/${p}`,
  v: (p: string) => `adam_v/${p}`,
  ema: (p: string) => `ema/${p}`,
  updated: (p: string) => `updated/${p}`,
  mNext: (p: string) => `next_adam_m/${p}`,
  vNext: (p: string) => `next_adam_v/${p}`,
  emaNext: (p: string) => `next_ema/${p}`,
  grad: (p: string) => `grad/${p}`,
  gradNorm: "grad_norm",
} as const;

export interface TrainingStep {
  /** Trainable parameters the loss depends on, in graph order. */
  trainable: string[];
}

/**
 * Appends backward + AdamW to `graph` for `loss` (a scalar). Trainable parameters that influence the
 * loss are updated; their optimizer state enters as inputs (adam_m/*, adam_v/*, ema/*, step) and the
 * new values leave as outputs (updated/*, next_adam_m/*, next_adam_v/*, next_ema/*, grad_norm).
 * Emit it with `paramsAsInputs` for the trainable names so parameters flow in and out each step.
 */
export function appendTrainingStep(graph: Graph, loss: Value, o: TrainingStepOptions): TrainingStep {
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  const wd = o.weightDecay ?? 0;
  const used = new Set(graph.liveNodes([loss]).flatMap((n) => n.inputs));
  const params = [...graph.params.values()].filter((p) => p.trainable && used.has(p.value));
  const names = params.map((p) => p.value.name!);
  let grads = gradients(
    loss,
    params.map((p) => p.value),
  );

  let sq: Value | undefined;
  for (const g of grads) {
    const s = op.reduceSum(op.mul(g, g), [...g.shape.keys()], false);
    sq = sq ? op.add(sq, s) : s;
  }
  const norm = op.sqrt(sq ?? op.scalar(graph, 0));
  graph.output(STEP_IO.gradNorm, norm);
  if (o.maxGradNorm !== undefined) {
    const factor = op.minimum(op.div(op.scalar(graph, o.maxGradNorm), op.add(norm, 1e-6)), 1);
    grads = grads.map((g) => op.mul(g, factor));
  }

  const step = graph.input(STEP_IO.step, "float32", []);
  const lr: Value | number = o.lrInput ? graph.input(STEP_IO.lr, "float32", []) : o.lr;
  const bc1 = op.sub(1, op.pow(op.scalar(graph, b1), step));
  const bc2 = op.sub(1, op.pow(op.scalar(graph, b2), step));
  params.forEach((p, i) => {
    const name = names[i];
    const w = p.value;
    const g = grads[i];
    if (o.outputGradients) graph.output(STEP_IO.grad(name), g);
    const m = graph.input(STEP_IO.m(name), w.dtype, w.shape);
    const v = graph.input(STEP_IO.v(name), w.dtype, w.shape);
    const mNext = op.add(op.mul(m, b1), op.mul(g, 1 - b1));
    const vNext = op.add(op.mul(v, b2), op.mul(op.mul(g, g), 1 - b2));
    const decayed = wd ? op.mul(w, typeof lr === "number" ? 1 - lr * wd : op.sub(1, op.mul(lr, wd))) : w;
    // PyTorch: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
    const denom = op.add(op.div(op.sqrt(vNext), op.sqrt(bc2)), eps);
    const updated = op.sub(decayed, op.div(op.mul(op.div(mNext, denom), lr), bc1));
    graph.output(STEP_IO.updated(name), updated);
    graph.output(STEP_IO.mNext(name), mNext);
    graph.output(STEP_IO.vNext(name), vNext);
    if (o.emaDecay !== undefined) {
      const ema = graph.input(STEP_IO.ema(name), w.dtype, w.shape);
      graph.output(STEP_IO.emaNext(name), op.add(op.mul(ema, o.emaDecay), op.mul(updated, 1 - o.emaDecay)));
    }
  });
  return { trainable: names };
}
