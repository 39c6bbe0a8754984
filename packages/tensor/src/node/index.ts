/// <reference types="node" />
// Node-only helpers of @flowturbo/tensor (file access). Imported as "@flowturbo/tensor/node".
export * from "./files";
export * from "./formats";
