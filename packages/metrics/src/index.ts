// @flowturbo/metrics: FID, sFID, Inception Score and precision/recall with the reference conventions
// (pytorch-fid's FID Inception, ADM's evaluator). Browser-safe; file helpers are in "./node".
export * from "./distances";
export * from "./emojiClassifier";
export * from "./emojiFeatures";
export * from "./evaluate";
export * from "./features";
export * from "./fid";
export * from "./images";
export * from "./inception";
export * from "./inceptionScore";
export * from "./linalg";
export * from "./moments";
export * from "./precisionRecall";
export * from "./stats";
export * from "./statsFile";
