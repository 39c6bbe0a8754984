/// <reference types="node" />
// Node-only helpers of @flowturbo/metrics (files and folders). Imported as "@flowturbo/metrics/node".
export * from "./emoji";
export * from "./eval";
export * from "./files";
