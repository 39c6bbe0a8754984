// Training (browser-safe part): objectives, SiT initialisation, data feeds, training state.
// The loop with file checkpoints is in "@flowturbo/refiner/node" (./node.ts).
export * from "./data";
export * from "./init";
export * from "./objectives";
export * from "./schedule";
export * from "./warmStart";
export * from "./state";
