// @flowturbo/solvers: flow-ODE/SDE solvers and FlowTurbo's H/P/R sampler. Zero dependencies,
// no Node-only APIs. Conventions: x_t = t*x1 + (1-t)*x0, t=0 noise, t=1 data, dx/dt = v.

export { fromDiffusersVelocity, sigmaToTime, timeToSigma, type DiffusersVelocity } from "./diffusers";
export { type Dopri5Options, type Dopri5Result, solveDopri5 } from "./dopri5";
export { CountingEvaluator, type Evaluator, runGrid, type StepFn } from "./driver";
export { eulerStep } from "./euler";
export { EVALS_PER_STEP, type FixedStepMethod, type FixedStepOptions, solveFixedStep } from "./fixedStep";
export { type FlowTurboOptions, type FlowTurboResult, sampleFlowTurbo } from "./flowTurbo";
export { checkGrid, gridFromSigmas, linspace, shiftedGrid, shiftTime, sitGrid, uniformGrid } from "./grids";
export {
  doubleBatch,
  firstHalf,
  type GuidanceOptions,
  type GuidedChannels,
  guidedRefiner,
  guidedVelocity,
  resolveChannels,
} from "./guidance";
export { type HeunResult, heunStep, heunStepWithSlopes } from "./heun";
export { midpointStep } from "./midpoint";
export {
  blockName,
  formatPlan,
  type Plan,
  type PlanCounts,
  PlanError,
  type PlanSegment,
  parsePlan,
  planFromCounts,
  planNfe,
  toPlan,
} from "./plan";
export { pseudoCorrectorStep } from "./pseudoCorrector";
export { type RefinerBlockResult, refinerBlockStep } from "./refinerBlock";
export { rk4Step, rk38Step } from "./rk4";
export { type NoiseSource, type SdeLastStep, type SdeOptions, solveSde } from "./sde";
export type {
  BlockKind,
  CommonOptions,
  EvalContext,
  NfeCounts,
  RefinerField,
  SolveResult,
  StepCallback,
  StepInfo,
  VelocityField,
} from "./types";
export {
  defaultOpsFor,
  float32Ops,
  float64Ops,
  type GuidanceOps,
  typedArrayOps,
  type VectorOps,
} from "./vectorOps";
