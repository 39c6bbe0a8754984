export * from "./backend";
export * from "./conformance";
