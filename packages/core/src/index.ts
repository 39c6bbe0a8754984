export * from "./backend";
export * from "./conformance";
export * from "./referenceBackend";
export * from "./velocity";
export * from "./sample";
export * from "./blockSampler";
export * from "./feeds";
export * from "./ort";
