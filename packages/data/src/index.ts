export * from "./image";
export * from "./resample";
