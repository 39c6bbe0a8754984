// Tests that need Redis start their own redis-server on a free loopback port. Without the binary they
// are skipped with a warning, unless FLOWTURBO_REQUIRE_REDIS=1 (CI), where they fail instead.
import { findRedisServer } from "../src";

export const REDIS_BIN = findRedisServer();
export const REQUIRE_REDIS = process.env.FLOWTURBO_REQUIRE_REDIS === "1";
export const SKIP_REDIS = !REDIS_BIN && !REQUIRE_REDIS;
if (SKIP_REDIS) {
  console.warn(
    "redis-server not found: the Redis/BullMQ tests are skipped (apt-get install redis-server; FLOWTURBO_REQUIRE_REDIS=1 makes this an error)",
  );
}
