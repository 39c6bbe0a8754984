// Tests that need Redis start their own redis-server on a free loopback port. Without the binary they
// are skipped with a warning in the quick tier, and fail in the full tier (CI).
import { skipWithout } from "@flowturbo/test-support";
import { findRedisServer } from "../src";

export const REDIS_BIN = findRedisServer();
export const SKIP_REDIS = skipWithout(
  "redis-server for the Redis/BullMQ tests",
  REDIS_BIN ? undefined : "redis-server was not found (apt-get install redis-server)",
);
