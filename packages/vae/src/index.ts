export * from "./config";
export * from "./pipeline";
export * from "./vae";
export * from "./weights";
export * from "./procedural";
