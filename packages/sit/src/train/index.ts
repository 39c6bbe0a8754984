// Training (browser-safe part): the base objective, SiT initialisation, data feeds, learning-rate
// schedules, warm starts, training state. The loop with file checkpoints is in "@flowturbo/sit/node".
export * from "./data";
export * from "./init";
export * from "./objectives/base";
export * from "./objectives/common";
export * from "./schedule";
export * from "./warmStart";
export * from "./state";
