export * from "./config";
export * from "./sit";
export * from "./weights";
export * from "./checkpoint";
export * from "./procedural";
export * from "./exportOnnx";
export * from "./training";
export * from "./train/index";
