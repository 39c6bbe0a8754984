import { SAFETY_TIMEOUT_MS } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type ConnectionOptions,
  defaultJobName,
  mergeJobId,
  queueOverview,
  type RedisServer,
  redisConnection,
  runStatus,
  type ShardJobData,
  shardCount,
  shardJobId,
  startRedisServer,
  startWorker,
  submitJob,
  waitForRun,
  type WorkerEvent,
} from "../src";
import { SKIP_REDIS } from "./redisTest";

describe("job ids and connections (no Redis)", () => {
  test("ids are deterministic and say which shard they are", () => {
    expect(shardJobId("run1", 3)).toBe("run1.shard-3");
    expect(mergeJobId("run1")).toBe("run1.merge");
    expect(defaultJobName({ a: 1 })).toBe(defaultJobName({ a: 1 }));
    expect(defaultJobName({ a: 1 })).not.toBe(defaultJobName({ a: 2 }));
    expect(shardCount(10, 4)).toBe(3);
    expect(shardCount(0, 4)).toBe(1);
  });
  test("redis URLs", () => {
    expect(redisConnection("redis://u:p%40ss@example.org:6380/2")).toMatchObject({
      host: "example.org",
      port: 6380,
      db: 2,
      username: "u",
      password: "p@ss",
      maxRetriesPerRequest: null,
    });
    expect(() => redisConnection("http://x")).toThrow(/redis:\/\//);
    expect(() => redisConnection("nonsense")).toThrow(/expected redis:\/\/host:port/);
  });
});

describe.skipIf(SKIP_REDIS)("BullMQ runs against a real redis-server", () => {
  let redis: RedisServer;
  let connection: ConnectionOptions;
  beforeAll(async () => {
    redis = await startRedisServer();
    connection = redisConnection(redis.url);
  });
  afterAll(() => redis?.stop());

  const base = { out: "/tmp/unused", shardArgs: ["--seed", "1"], mergeArgs: [], backoffMs: 100 };

  test("shards tile the run, the merge sees every shard's result; resubmitting adds nothing", async () => {
    const queue = "q-basic";
    const seen: ShardJobData[] = [];
    const events: WorkerEvent[] = [];
    const worker = startWorker({
      connection,
      queue,
      onEvent: (e) => events.push(e),
      runShard: async (d, ctx) => {
        await ctx.progress({ done: d.range.end - d.range.start, total: d.range.end - d.range.start });
        seen.push(d);
        return { range: d.range };
      },
      runMerge: async (d, ctx) => ({ shards: Object.keys(ctx.children).length, total: d.total }),
    });
    try {
      const r = await submitJob({ ...base, connection, queue, job: "run-a", total: 11, shards: 4 });
      expect(r.existed).toBe(false);
      expect(r.shardIds).toEqual([0, 1, 2, 3].map((k) => `run-a.shard-${k}`));
      const status = await waitForRun({
        connection,
        queue,
        job: "run-a",
        timeoutMs: SAFETY_TIMEOUT_MS,
        pollMs: 100,
      });
      expect(status.merge.result).toEqual({ shards: 4, total: 11 });
      const covered = seen.flatMap((d) =>
        Array.from({ length: d.range.end - d.range.start }, (_, i) => d.range.start + i),
      );
      expect(covered.sort((a, b) => a - b)).toEqual(Array.from({ length: 11 }, (_, i) => i));
      expect(status.shards.map((s) => s.state)).toEqual(["completed", "completed", "completed", "completed"]);
      expect(status.shards[3].progress).toEqual({ done: 2, total: 2 });
      expect(events.filter((e) => e.type === "completed")).toHaveLength(5);
      const again = await submitJob({ ...base, connection, queue, job: "run-a", total: 11, shards: 4 });
      expect(again.existed).toBe(true);
      await expect(
        submitJob({ ...base, connection, queue, job: "run-a", total: 12, shards: 4 }),
      ).rejects.toThrow(/already in queue 'q-basic' with other options/);
      const overview = await queueOverview({ connection, queue });
      expect(overview.runs).toEqual([{ job: "run-a", state: "completed", total: 11, shards: 4 }]);
      expect(await runStatus({ connection, queue, job: "nope" })).toBeUndefined();
    } finally {
      await worker.close();
    }
  });

  test("a shard that fails is retried with backoff; one that keeps failing fails the merge", async () => {
    const queue = "q-retry";
    const tries = new Map<number, number>();
    const worker = startWorker({
      connection,
      queue,
      runShard: async (d) => {
        const n = (tries.get(d.shard) ?? 0) + 1;
        tries.set(d.shard, n);
        if (d.job === "flaky" && d.shard === 1 && n === 1) throw new Error("transient");
        if (d.job === "broken" && d.shard === 0) throw new Error("always");
        return n;
      },
      runMerge: async () => "merged",
    });
    try {
      await submitJob({ ...base, connection, queue, job: "flaky", total: 4, shards: 2 });
      const ok = await waitForRun({
        connection,
        queue,
        job: "flaky",
        timeoutMs: SAFETY_TIMEOUT_MS,
        pollMs: 100,
      });
      expect(ok.merge.result).toBe("merged");
      expect(ok.shards[1]).toMatchObject({ attemptsStarted: 2, result: 2 });
      tries.clear();
      await submitJob({ ...base, connection, queue, job: "broken", total: 4, shards: 2, attempts: 2 });
      await expect(
        waitForRun({ connection, queue, job: "broken", timeoutMs: SAFETY_TIMEOUT_MS, pollMs: 100 }),
      ).rejects.toThrow(/job 'broken' failed/);
      const s = await runStatus({ connection, queue, job: "broken" });
      expect(s!.shards[0]).toMatchObject({ state: "failed", attemptsMade: 2, failedReason: "always" });
      expect(tries.get(0)).toBe(2);
    } finally {
      await worker.close();
    }
  });
});
