// Redis connection options from a URL, and a throwaway redis-server for tests and single-machine runs.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import type { ConnectionOptions } from "bullmq";

/**
 * BullMQ connection options from redis://[user:password@]host[:port][/db] (rediss:// for TLS).
 * `maxRetriesPerRequest: null` is what BullMQ workers require.
 */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`redis URL '${url}': expected redis://host:port[/db], e.g. redis://127.0.0.1:6379`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:")
    throw new Error(`redis URL '${url}': expected the redis:// or rediss:// scheme`);
  const db = u.pathname && u.pathname !== "/" ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new Error(`redis URL '${url}': database '${u.pathname}' is not a number`);
  return {
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

/** The redis-server binary on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? "redis-server" : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on 127.0.0.1 at a free port without persistence (`--save '' --appendonly no`),
 * resolving once it accepts connections. For tests and single-machine runs; stop() ends it.
 */
export async function startRedisServer(options: { bin?: string; port?: number } = {}): Promise<RedisServer> {
  const bin = options.bin ?? "redis-server";
  const port = options.port ?? (await freePort());
  const child = spawn(
    bin,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const onData = (d: Buffer) => {
    log += d.toString();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start in 10 s:\n${log}`)), 10_000);
    const check = () => {
      if (/Ready to accept connections/i.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${bin}: ${e.message} (install redis-server, e.g. apt-get install redis-server)`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}:\n${log}`));
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
