// FlowTurbo's refiner training objective (docs/FLOWTURBO.md section 5) as one training-step graph:
// frozen SiT teacher, refiner student, AdamW.
import {
  appendTrainingStep,
  Graph,
  op,
  Scope,
  type TrainingStepOptions,
  type Value,
} from "@flowturbo/tensor";
import {
  dropLabels,
  linearPath,
  mseObjective,
  type Objective,
  type SiTConfig,
  sitNetwork,
} from "@flowturbo/sit";

/** Parameter-name prefixes in the training graph (weights map keys are `teacher.<key>` / `refiner.<key>`). */
export const TEACHER = "teacher";
export const STUDENT = "refiner";

export type RefinerObjective = Objective;

/**
 * Builds the per-batch objective on inputs x1 (data latents), x0 (noise), t [B], y [B] int64,
 * drop [B] bool (label replaced by the null class for the student and the second teacher call), dt [].
 *   x_t = t x1 + (1-t) x0;  v = T(x_t, t, y);  x' = x_t + dt v
 *   pred = R(concat[x', v], t+dt, y_m) + v;  target = T(x', t+dt, y_m)
 *   loss = mean_b mean_chw (pred - target)^2
 */
export function refinerObjective(teacher: SiTConfig, student: SiTConfig, batch: number): RefinerObjective {
  const g = new Graph("refiner_training");
  const c = teacher.inChannels;
  const s = teacher.inputSize;
  const x1 = g.input("x1", "float32", [batch, c, s, s]);
  const x0 = g.input("x0", "float32", [batch, c, s, s]);
  const t = g.input("t", "float32", [batch]);
  const y = g.input("y", "int64", [batch]);
  const drop = g.input("drop", "bool", [batch]);
  const dt = g.input("dt", "float32", []);
  const teacherScope = new Scope(g, TEACHER, { trainable: false }); // frozen teacher
  const T = (x: Value, time: Value, labels: Value) => sitNetwork(teacherScope, x, time, labels, teacher);
  const R = (x: Value, time: Value, labels: Value) =>
    sitNetwork(new Scope(g, STUDENT), x, time, labels, student);

  const xt = linearPath(t, x1, x0, batch);
  const v = T(xt, t, y);
  const xNext = op.add(xt, op.mul(v, dt));
  const tNext = op.add(t, dt);
  const yDrop = dropLabels(g, y, drop, teacher.numClasses);
  const pred = op.add(R(op.concat([xNext, v], 1), tNext, yDrop), v);
  return mseObjective(g, pred, T(xNext, tNext, yDrop));
}

/** The objective plus backward and AdamW (paper defaults: lr 5e-5, no weight decay, EMA 0.9999). */
export function refinerTrainingStep(
  teacher: SiTConfig,
  student: SiTConfig,
  batch: number,
  opts: Partial<TrainingStepOptions> = {},
): RefinerObjective & { trainable: string[] } {
  const obj = refinerObjective(teacher, student, batch);
  const { trainable } = appendTrainingStep(obj.graph, obj.loss, { lr: 5e-5, weightDecay: 0, ...opts });
  return { ...obj, trainable };
}
