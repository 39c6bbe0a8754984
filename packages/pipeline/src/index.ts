// @flowturbo/pipeline: FlowTurbo sampling end to end, shared by the CLI and the web app.
export * from "./method";
export * from "./rules";
export * from "./models";
export * from "./exportOnnx";
export * from "./blocks/io";
export * from "./blocks/graphs";
export * from "./blocks/executor";
export * from "./velocity";
export * from "./sample";
export * from "./sessions";
export * from "./pipeline";
