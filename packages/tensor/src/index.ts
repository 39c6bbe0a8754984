export * from "./dtype";
export * from "./float16";
export * from "./shape";
export * from "./tensor";
