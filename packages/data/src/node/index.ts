/// <reference types="node" />
// Node-only parts of @flowturbo/data (file system, sharp). Imported as "@flowturbo/data/node".
export * from "./decode";
export * from "./emoji";
export * from "./folders";
export * from "./latent-cache";
export * from "./sampleFolder";
export * from "./writers";
