export * from "./dtype";
export * from "./float16";
export * from "./shape";
export * from "./tensor";
export * from "./io/index";
export * from "./rng/index";
export * from "./onnx/index";
