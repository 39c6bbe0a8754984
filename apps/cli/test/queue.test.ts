// Sharded runs on BullMQ against a real redis-server (started here on a free loopback port) with real
// `flowturbo queue worker` processes: the images and the FID must not depend on how the run is split or
// on which worker does what, also when a worker is killed with SIGKILL in the middle of a shard.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findRedisServer, type RedisServer, startRedisServer } from "@flowturbo/queue";
import { encodeSafetensors, type ProceduralRule, proceduralStateDict } from "@flowturbo/tensor";
import {
  FULL_TIER,
  FULL_TIER_ONLY,
  goldenPath,
  SAFETY_TIMEOUT_MS,
  skipWithout,
  TS_NODE_ARGS,
} from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import type { ShardManifest } from "../src/shards";
import { cli } from "./run";

// Worker processes, real-size Inception features and several runs: minutes of CPU, so the full tier only.
if (!FULL_TIER) console.warn(`skipping the queue worker tests: ${FULL_TIER_ONLY}`);
const SKIP =
  !FULL_TIER ||
  skipWithout(
    "redis-server for the queue tests",
    findRedisServer() ? undefined : "redis-server was not found (apt-get install redis-server)",
  );

const REPO = resolve(import.meta.dirname, "../../..");
const BIN = join(REPO, "apps/cli/src/bin.ts");
const TOTAL = 12;
const QUEUE = "test-queue";

interface WorkerProc {
  name: string;
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first (past or future) stdout line matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

describe.skipIf(SKIP)("flowturbo queue: sharded sampling and FID on BullMQ/Redis", () => {
  let redis: RedisServer;
  let dir: string;
  let inception: string;
  let ref: string;
  const workers: WorkerProc[] = [];

  function startWorkerProcess(name: string): WorkerProc {
    const child = spawn(
      process.execPath,
      [
        ...TS_NODE_ARGS,
        BIN,
        "queue",
        "worker",
        "--redis",
        redis.url,
        "--queue",
        QUEUE,
        "--name",
        name,
        // a killed worker's shard is taken back within ~30 s; long enough that a worker of a loaded machine
        // renews its lock in time (a stalled job counts against its attempts)
        "--lock-duration",
        "20000",
        "--stalled-interval",
        "10000",
      ],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    const lines: string[] = [];
    const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.re.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
    child.stderr!.on("data", () => undefined);
    const proc: WorkerProc = {
      name,
      child,
      lines,
      waitFor: (re, timeoutMs = SAFETY_TIMEOUT_MS) => {
        const seen = lines.find((l) => re.test(l));
        if (seen) return Promise.resolve(seen);
        return new Promise((res, rej) => {
          const timer = setTimeout(
            () => rej(new Error(`${name}: no line matching ${re} in ${timeoutMs} ms:\n${lines.join("\n")}`)),
            timeoutMs,
          );
          waiters.push({
            re,
            resolve: (l) => {
              clearTimeout(timer);
              res(l);
            },
          });
        });
      },
    };
    workers.push(proc);
    return proc;
  }

  async function submit(job: string, shards: number, extra: string[] = []) {
    const r = await cli(
      "queue",
      "submit",
      "--redis",
      redis.url,
      "--queue",
      QUEUE,
      "--job",
      job,
      "--total",
      String(TOTAL),
      "--shards",
      String(shards),
      "-o",
      join(dir, job),
      "--batch",
      "1",
      "--inception",
      inception,
      "--ref",
      ref,
      "--backoff-ms",
      "200",
      "--wait",
      "--timeout",
      String(SAFETY_TIMEOUT_MS / 1000),
      "--json",
      ...extra,
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    return JSON.parse(r.out).result as { fid: number; sfid: number; shards: number; incomplete: string[] };
  }

  /** sha256 of every image by global index, from the manifests; checks the PNG files on disk too. */
  async function imagesOf(job: string): Promise<string[]> {
    const root = join(dir, job);
    const hashes: string[] = [];
    const files: string[] = [];
    for (const name of (await readdir(root)).filter((n) => n.startsWith("shard-")).sort()) {
      const m = JSON.parse(await readFile(join(root, name, "manifest.json"), "utf8")) as ShardManifest;
      if (m.images.kind !== "png") throw new Error("expected PNG shards");
      expect(m.images.files.length).toBe(m.range.end - m.range.start);
      for (let i = 0; i < m.images.files.length; i++) hashes[m.range.start + i] = m.images.sha256[i];
      files.push(...(await readdir(join(root, name))).filter((f) => f.endsWith(".png")));
    }
    // every global index exactly once among the complete shards' PNGs
    const indices = files.map((f) => Number(f.split("_")[0])).sort((a, b) => a - b);
    expect(indices).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    return hashes;
  }

  async function status(job: string) {
    const r = await cli("queue", "status", "--redis", redis.url, "--queue", QUEUE, "--job", job, "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    return JSON.parse(r.out);
  }

  let plainHashes: string[];
  let plainFid: number;

  beforeAll(async () => {
    redis = await startRedisServer();
    dir = await mkdtemp(join(tmpdir(), "flowturbo-queue-"));
    // pytorch-fid's Inception at its real size with the golden case's procedural weights
    const rules = JSON.parse(await readFile(goldenPath("inception/inception_fid/case.json"), "utf8"))
      .procedural_rules as ProceduralRule[];
    inception = join(dir, "inception.safetensors");
    await writeFile(inception, encodeSafetensors(proceduralStateDict(rules)));
    // reference statistics: other samples of the embedded model
    const refImages = join(dir, "ref-images");
    expect((await cli("sample", "--n", "6", "--seed", "99", "-o", `${refImages}/`)).code).toBe(EXIT.ok);
    ref = join(dir, "ref.npz");
    expect((await cli("eval", "stats", refImages, "-o", ref, "--inception", inception)).code).toBe(EXIT.ok);
    // the same run without shards or queue
    const plain = join(dir, "plain");
    // (--batch is part of a run's definition: ORT rounds differently for other batch shapes)
    expect((await cli("sample", "--n", String(TOTAL), "--batch", "1", "-o", `${plain}/`)).code).toBe(EXIT.ok);
    const { createHash } = await import("node:crypto");
    plainHashes = [];
    // the images, not the folder's completeness record (flowturbo-samples.json)
    const plainFiles = (await readdir(plain)).sort();
    expect(plainFiles).toContain("flowturbo-samples.json");
    for (const f of plainFiles.filter((n) => n.endsWith(".png")))
      plainHashes.push(
        createHash("sha256")
          .update(await readFile(join(plain, f)))
          .digest("hex"),
      );
    const fid = await cli("eval", "fid", plain, ref, "--inception", inception, "--json");
    expect(fid.code, fid.err).toBe(EXIT.ok);
    plainFid = JSON.parse(fid.out).fid;
    startWorkerProcess("w1");
  });

  afterAll(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let oneShard: { fid: number; sfid: number };

  test("1 shard and 4 shards on one worker: the same image bytes and the same FID as an unsharded run", async () => {
    oneShard = await submit("one-shard", 1, ["--npz", join(dir, "one-shard.npz")]);
    const four = await submit("four-on-one", 4);
    expect(await imagesOf("one-shard")).toEqual(plainHashes);
    expect(await imagesOf("four-on-one")).toEqual(plainHashes);
    expect(four.fid).toBe(oneShard.fid);
    expect(four.sfid).toBe(oneShard.sfid);
    // FID from the shards' moments = FID computed from the image files, up to the rounding of eval fid's
    // plain float64 sums (12 images: singular covariances magnify last-bit differences to ~1e-10)
    expect(Math.abs(oneShard.fid - plainFid)).toBeLessThanOrEqual(1e-8 * plainFid);
    const s = await status("four-on-one");
    expect(s.shards.map((x: { processedBy: string }) => x.processedBy)).toEqual(["w1", "w1", "w1", "w1"]);
    // the assembled ADM npz equals a plain `sample -o x.npz`
    const plainNpz = join(dir, "plain.npz");
    expect((await cli("sample", "--n", String(TOTAL), "--batch", "1", "-o", plainNpz)).code).toBe(EXIT.ok);
    expect(Buffer.compare(await readFile(plainNpz), await readFile(join(dir, "one-shard.npz")))).toBe(0);
  });

  test("4 shards on 3 workers: the same images and FID", async () => {
    startWorkerProcess("w2");
    startWorkerProcess("w3");
    await Promise.all(workers.map((w) => w.waitFor(/waiting for jobs/)));
    const r = await submit("four-on-three", 4);
    expect(await imagesOf("four-on-three")).toEqual(plainHashes);
    expect(r.fid).toBe(oneShard.fid);
    expect(r.sfid).toBe(oneShard.sfid);
    const s = await status("four-on-three");
    const by = new Set(s.shards.map((x: { processedBy: string }) => x.processedBy));
    expect(by.size).toBeGreaterThan(1);
  });

  test("a worker killed with SIGKILL mid-shard: the shard is redone elsewhere, no image missing or doubled, same FID", async () => {
    const job = "killed";
    const done = submit(job, 4);
    // the first worker to report progress inside a shard of this run dies at once
    const progress = /progress killed\.shard-(\d+): 1\/3/;
    const line = await Promise.race(workers.map((w) => w.waitFor(progress).then((l) => ({ w, l }))));
    line.w.child.kill("SIGKILL");
    const shard = Number(progress.exec(line.l)![1]);
    const r = await done;
    expect(await imagesOf(job)).toEqual(plainHashes);
    expect(r.fid).toBe(oneShard.fid);
    expect(r.sfid).toBe(oneShard.sfid);
    const s = await status(job);
    const killed = s.shards[shard];
    expect(killed.state).toBe("completed");
    expect(killed.processedBy).not.toBe(line.w.name);
    expect(killed.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(killed.result.worker).not.toBe(line.w.name);
    // the killed attempt left at most its private temporary folder, which the merge ignored
    expect(r.incomplete.length).toBeLessThanOrEqual(1);
  });

  test("status and errors name what is wrong", async () => {
    const overview = await cli("queue", "status", "--redis", redis.url, "--queue", QUEUE);
    expect(overview.out).toMatch(/job four-on-three: 12 samples, 4 shards, completed/);
    expect((await cli("queue", "submit", "--total", "4", "-o", dir)).err).toMatch(/--redis URL is required/);
    expect(
      (await cli("queue", "status", "--redis", redis.url, "--queue", QUEUE, "--job", "nope")).err,
    ).toMatch(/--job nope: no such job/);
    expect((await cli("queue", "frobnicate")).err).toMatch(/unknown queue subcommand 'frobnicate'/);
  });
});

describe("sample --shard / --range and eval merge (no Redis)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowturbo-shards-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test("shards tile the run; merge assembles the npz; gaps, overlaps and other runs are named", async () => {
    const run = join(dir, "run");
    // batch slots of 2: range 2:5 computes slots [2, 4) and [4, 6), keeping samples 2..4
    for (const spec of ["0:2", "2:5"])
      expect(
        (await cli("sample", "--range", spec, "--total", "5", "--batch", "2", "--format", "npz", "-o", run))
          .code,
      ).toBe(EXIT.ok);
    const partial = await cli("eval", "merge", run, "--total", "6");
    expect(partial.err).toMatch(/samples 5:6 are missing/);
    const m = await cli("eval", "merge", run, "--npz", join(dir, "all.npz"), "--json");
    expect(m.code, m.err).toBe(EXIT.ok);
    expect(JSON.parse(m.out)).toMatchObject({ total: 5, shards: 2, fid: null });
    expect((await cli("sample", "--n", "5", "--batch", "2", "-o", join(dir, "plain.npz"))).code).toBe(
      EXIT.ok,
    );
    expect(Buffer.compare(await readFile(join(dir, "plain.npz")), await readFile(join(dir, "all.npz")))).toBe(
      0,
    );
    // a rerun of a complete shard does nothing; a shard of another run in the folder is refused
    const again = await cli(
      "sample",
      "--range",
      "0:2",
      "--total",
      "5",
      "--batch",
      "2",
      "--format",
      "npz",
      "-o",
      run,
      "--json",
    );
    expect(JSON.parse(again.out).alreadyComplete).toBe(true);
    expect((await cli("eval", "merge", run, "--ref", join(dir, "x.npz"))).err).toMatch(/no feature moments/);
    expect((await cli("sample", "--range", "5:6", "--total", "6", "--seed", "3", "-o", run)).code).toBe(
      EXIT.ok,
    );
    expect((await cli("eval", "merge", run)).err).toMatch(/belongs to another run/);
  });

  test("flag errors say what was expected", async () => {
    const o = join(dir, "x");
    expect((await cli("sample", "--shard", "1/4", "-o", o)).err).toMatch(/--shard k\/K needs --total N/);
    expect((await cli("sample", "--shard", "1/4", "--total", "8", "--n", "2", "-o", o)).err).toMatch(
      /give the run's size as --total N/,
    );
    expect((await cli("sample", "--shard", "4/4", "--total", "8", "-o", o)).err).toMatch(
      /--shard shard '4\/4'/,
    );
    expect((await cli("sample", "--range", "0:2", "--total", "8", "-o", "x.png")).err).toMatch(/pass -o DIR/);
    expect((await cli("sample", "--total", "8")).err).toMatch(/--total belongs to sharded runs/);
    expect((await cli("eval", "merge", join(dir, "nope"))).err).toMatch(/no such folder/);
  });
});
