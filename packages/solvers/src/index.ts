// @flowturbo/solvers: flow-ODE/SDE solvers and FlowTurbo's H/P/R sampler. Zero dependencies,
// no Node-only APIs. Conventions: x_t = t*x1 + (1-t)*x0, t=0 noise, t=1 data, dx/dt = v.

export { NonFiniteError, type NonFiniteSource, throwIfAborted } from "./checks";
export { type DiffusersVelocity, fromDiffusersVelocity, sigmaToTime, timeToSigma } from "./diffusers";
export { type Dopri5Options, type Dopri5Result, solveDopri5 } from "./dopri5";
export {
  CountingEvaluator,
  type Evaluator,
  runGrid,
  runStages,
  type Stages,
  type StepFn,
  type VelocityRequest,
} from "./driver";
export { eulerStages, eulerStep, eulerTimes } from "./euler";
export {
  EVALS_PER_STEP,
  type FixedStepMethod,
  type FixedStepOptions,
  type FixedStepScheme,
  fixedStepScheme,
  fromTorchdiffeqMethod,
  solveFixedStep,
  TORCHDIFFEQ_METHODS,
} from "./fixedStep";
export { type FlowTurboOptions, type FlowTurboResult, sampleFlowTurbo } from "./flowTurbo";
export { checkGrid, gridFromSigmas, linspace, shiftedGrid, shiftTime, sitGrid, uniformGrid } from "./grids";
export {
  type ClassifierFreeGuidanceOptions,
  classifierFreeGuidance,
  doubleBatch,
  firstHalf,
  type GuidanceBatchOrder,
  type GuidancePair,
  guidedRefiner,
  guidedVelocity,
  resolveChannels,
} from "./guidance";
export {
  type HeunResult,
  heunStages,
  heunStagesWithSlopes,
  heunStep,
  heunStepWithSlopes,
  heunTimes,
} from "./heun";
export { midpointStages, midpointStep, midpointTimes } from "./midpoint";
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
export { rk4Stages, rk4Step, rk4Times, rk38Stages, rk38Step, rk38Times } from "./rk4";
export {
  FlowMatchScheduler,
  type SchedulerArgs,
  type SchedulerOptions,
  type SchedulerStepOutput,
  type TimestepSpec,
} from "./scheduler";
export { type NoiseSource, type SdeLastStep, type SdeOptions, solveSde } from "./sde";
export type {
  AbortSignalLike,
  BlockKind,
  BuiltInState,
  CommonOptions,
  EvalContext,
  GuidanceOptions,
  GuidedChannels,
  NfeCounts,
  RefinerField,
  RequireGuidanceOps,
  RequireOps,
  SolverAbortSignal,
  SolveResult,
  StepCallback,
  StepInfo,
  VelocityField,
} from "./types";
export {
  type AllOps,
  type CfgOps,
  defaultOpsFor,
  float32Ops,
  float64Ops,
  type GuidanceOps,
  typedArrayOps,
  type VectorOps,
} from "./vectorOps";
