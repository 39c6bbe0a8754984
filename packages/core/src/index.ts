export * from "./backend";
export * from "./conformance";
export * from "./referenceBackend";
export * from "./feeds";
export * from "./ort";
