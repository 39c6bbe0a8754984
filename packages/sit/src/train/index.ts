// Training (browser-safe part): the base objective, SiT initialisation, data feeds, training state.
// The loop with file checkpoints is in "@flowturbo/sit/node" (../node.ts).
export * from "./data";
export * from "./init";
export * from "./objectives/base";
export * from "./state";
