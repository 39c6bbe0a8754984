// Random numbers and procedural tensors. The exact algorithms (so that other languages can reproduce every
// bit) are specified in ./README.md.

export {
  mulhi32,
  PHILOX_M4X32_0,
  PHILOX_M4X32_1,
  PHILOX_W32_0,
  PHILOX_W32_1,
  philox4x32,
  philox4x32Into,
} from "./philox";
export { portableLog, portableSinCos2Pi32, sinCosTurn32Into } from "./portable-math";
export {
  fnv1a32,
  type ProceduralRule,
  proceduralStateDict,
  proceduralTensor,
  proceduralValues,
} from "./procedural";
export {
  LABEL_STREAM,
  labelForSample,
  labelsForSamples,
  NOISE_STREAM,
  noiseBatch,
  noiseForSample,
  Rng,
  RngStream,
  randomBernoulli,
  randomInt,
  randomNormal,
  randomPermutation,
  randomUniform,
  randomWords,
  type Seed,
  type StreamName,
  seedKey,
  streamId,
} from "./stream";
