export { type ConnectionOptions, UnrecoverableError } from "bullmq";
export * from "./jobs";
export * from "./redis";
export { parseRange, type SampleRange, shardRange } from "./shard";
export * from "./status";
export * from "./submit";
export * from "./worker";
