export { parseRange, type SampleRange, shardRange } from "./shard";
