// Queue overhead and throughput of sharded runs on this machine: a throwaway redis-server, 1, 2 and 3
// `flowturbo queue worker` processes, the embedded emoji model with FID features (pytorch-fid's Inception
// at its real size, the test fixture's procedural weights: the same cost as the real file).
// Prints a table per worker count and one JSON line. Not a test. BENCH_QUEUE_TOTAL / BENCH_QUEUE_SHARD
// change the run size (default 48 samples in shards of 4).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { redisConnection, runStatus, type ShardStatus, startRedisServer } from "@flowturbo/queue";
import { encodeSafetensors, type ProceduralRule, proceduralStateDict } from "@flowturbo/tensor";

const REPO = resolve(import.meta.dirname, "../../..");
const BIN = join(REPO, "apps/cli/src/bin.ts");
const TOTAL = Number(process.env.BENCH_QUEUE_TOTAL ?? 48);
const SHARD = Number(process.env.BENCH_QUEUE_SHARD ?? 4);
const node = (args: string[]) =>
  spawn(process.execPath, ["--conditions=@flowturbo/source", "--import", "tsx", BIN, ...args], { cwd: REPO });

function run(args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const c = node(args);
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => {
      out += d;
    });
    c.stderr.on("data", (d) => {
      err += d;
    });
    c.on("close", (code) => (code === 0 ? res(out) : rej(new Error(`flowturbo ${args.join(" ")}: ${err}`))));
  });
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
const fmt = (v: number) => v.toFixed(3);

const redis = await startRedisServer();
const dir = await mkdtemp(join(tmpdir(), "flowturbo-bench-queue-"));
const connection = redisConnection(redis.url);
const results: Record<string, unknown>[] = [];
try {
  const rules = JSON.parse(
    await readFile(join(REPO, "fixtures/golden/inception/inception_fid/case.json"), "utf8"),
  ).procedural_rules as ProceduralRule[];
  const inception = join(dir, "inception.safetensors");
  await writeFile(inception, encodeSafetensors(proceduralStateDict(rules)));
  console.log(
    `machine: ${cpus().length} CPU cores (${cpus()[0]?.model ?? "?"}); run: ${TOTAL} samples, shards of ${SHARD}, batch ${SHARD}, embedded emoji model + FID features`,
  );
  for (const nWorkers of [1, 2, 3]) {
    const queue = `bench-${nWorkers}`;
    const workers: ChildProcess[] = [];
    await Promise.all(
      Array.from({ length: nWorkers }, (_, i) => {
        const w = node(["queue", "worker", "--redis", redis.url, "--queue", queue, "--name", `w${i + 1}`]);
        workers.push(w);
        return new Promise<void>((res) => {
          w.stdout!.on("data", (d: Buffer) => {
            if (/waiting for jobs/.test(d.toString())) res();
          });
        });
      }),
    );
    const job = `bench-${nWorkers}w`;
    const t0 = Date.now();
    await run([
      "queue",
      "submit",
      "--redis",
      redis.url,
      "--queue",
      queue,
      "--job",
      job,
      "--total",
      String(TOTAL),
      "--shard-size",
      String(SHARD),
      "--batch",
      String(SHARD),
      "-o",
      join(dir, job),
      "--inception",
      inception,
      "--wait",
      "--json",
    ]);
    const wall = (Date.now() - t0) / 1000;
    for (const w of workers) w.kill("SIGTERM");
    const s = (await runStatus({ connection, queue, job }))!;
    const shards = s.shards;
    const lastShard = Math.max(...shards.map((x) => x.finishedOn ?? 0));
    const firstAdd = Math.min(...shards.map((x) => x.timestamp));
    // pickup: from the moment the shard could start (added, or its worker's previous job finished) to start
    const byWorker = new Map<string, ShardStatus[]>();
    for (const x of shards)
      byWorker.set(x.processedBy ?? "?", [...(byWorker.get(x.processedBy ?? "?") ?? []), x]);
    const pickup: number[] = [];
    for (const list of byWorker.values()) {
      list.sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
      list.forEach((x, i) => {
        const ready = Math.max(x.timestamp, i > 0 ? (list[i - 1].finishedOn ?? 0) : 0);
        pickup.push(((x.processedOn ?? 0) - ready) / 1000);
      });
    }
    const r = shards.map((x) => x.result as { seconds: Record<string, number> });
    const job_s = shards.map((x) => ((x.finishedOn ?? 0) - (x.processedOn ?? 0)) / 1000);
    const child = r.map((x) => x.seconds.total);
    const row = {
      workers: nWorkers,
      samples: TOTAL,
      shards: shards.length,
      wallSeconds: wall,
      shardPhaseSeconds: (lastShard - firstAdd) / 1000,
      imagesPerSecond: TOTAL / ((lastShard - firstAdd) / 1000),
      mergeSeconds: ((s.merge.finishedOn ?? 0) - (s.merge.processedOn ?? 0)) / 1000,
      perShard: {
        pickupSeconds: mean(pickup),
        jobSeconds: mean(job_s),
        processStartSeconds: mean(job_s.map((j, i) => j - child[i])),
        loadSeconds: mean(r.map((x) => x.seconds.load)),
        samplingSeconds: mean(r.map((x) => x.seconds.sampling)),
        featuresSeconds: mean(r.map((x) => x.seconds.features)),
        writingSeconds: mean(r.map((x) => x.seconds.writing)),
      },
      attempts: shards.reduce((a, x) => a + x.attemptsStarted, 0),
    };
    results.push(row);
    const p = row.perShard;
    console.log(
      `${nWorkers} worker(s): ${fmt(row.imagesPerSecond)} images/s over the shard phase (${fmt(row.shardPhaseSeconds)} s), merge ${fmt(row.mergeSeconds)} s, wall ${fmt(wall)} s\n` +
        `  per shard of ${SHARD}: queue pickup ${fmt(p.pickupSeconds)} s | job ${fmt(p.jobSeconds)} s = process start + CLI load ${fmt(p.processStartSeconds)} s + models/Inception load ${fmt(p.loadSeconds)} s + sampling ${fmt(p.samplingSeconds)} s + features ${fmt(p.featuresSeconds)} s + writing ${fmt(p.writingSeconds)} s`,
    );
  }
  console.log(
    JSON.stringify({ bench: "queue", total: TOTAL, shardSize: SHARD, cpus: cpus().length, results }),
  );
} finally {
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
