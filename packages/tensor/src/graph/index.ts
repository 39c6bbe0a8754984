export * as F from "./functional";
export type { AttrValue, Attrs } from "./attrs";
export {
  Graph,
  type GraphInput,
  type GraphOutput,
  type Node,
  type Parameter,
  Value,
} from "./ir";
export * as nn from "./nn";
export { GRAPH_FORMS, type GraphForm, Scope } from "./nn";
export * as op from "./ops";
export {
  DEFAULT_OPSET,
  MS_DOMAIN,
  OP_DOMAINS,
  type ToOnnxOptions,
  toModelProto,
  toOnnx,
  toOnnxWithExternalData,
} from "./toOnnx";
export { FLOAT32_OPS, type HalfPrecisionOptions, halfWeights, toHalfPrecision } from "./precision";
export { gradients, isDifferentiable, sumToShape } from "./grad";
export { appendTrainingStep, STEP_IO, type TrainingStep, type TrainingStepOptions } from "./optim";
