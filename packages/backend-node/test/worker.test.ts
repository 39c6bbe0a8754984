import { fileURLToPath } from "node:url";
import { Graph, op, Tensor } from "@flowturbo/tensor";
import { afterAll, describe, expect, test } from "vitest";
import { createNodeBackend, type NodeBackend } from "../src";
import { lastJson, runTs } from "./helpers";

const N = 2048;
const CHAIN = 6;

/** y = x @ w @ w @ ... (CHAIN MatMuls of N x N: ~100 GFLOP, a few hundred ms here). */
function matmulChain(): Graph {
  const g = new Graph("matmul_chain");
  const x = g.input("x", "float32", [N, N]);
  const w = g.input("w", "float32", [N, N]);
  let y = x;
  for (let i = 0; i < CHAIN; i++) y = op.matmul(y, w);
  g.output("y", y);
  return g;
}

function feeds(): Record<string, Tensor> {
  const x = new Float32Array(N * N);
  const w = new Float32Array(N * N);
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.sin(i) * 0.5;
    w[i] = Math.cos(i * 0.7) / Math.sqrt(N);
  }
  return { x: new Tensor("float32", [N, N], x), w: new Tensor("float32", [N, N], w) };
}

/** Runs once while a 5 ms interval ticks; returns the run time, the tick count and the longest gap. */
async function timedRun(backend: NodeBackend) {
  const session = await backend.load({ graph: matmulChain() }, { threads: 2 });
  const f = feeds();
  await session.run(f); // warm-up
  let ticks = 0;
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 5);
  const t0 = performance.now();
  const out = await session.run(f);
  const ms = performance.now() - t0;
  maxGap = Math.max(maxGap, performance.now() - last);
  clearInterval(timer);
  await session.release();
  expect((out.y as Tensor).shape).toEqual([N, N]);
  return { ms, ticks, maxGap };
}

describe("worker thread", () => {
  const worker = createNodeBackend();
  const inThread = createNodeBackend({ worker: false });
  afterAll(async () => {
    await worker.close();
    await inThread.close();
  });

  test("the caller's event loop keeps ticking during a long run in the worker", async () => {
    const w = await timedRun(worker);
    // the run is long enough to matter, and timers fire all along it
    expect(w.ms).toBeGreaterThan(100);
    expect(w.maxGap).toBeLessThan(Math.max(60, w.ms / 4));
    expect(w.ticks).toBeGreaterThan(w.ms / 5 / 4);
    // control: in the caller's thread, onnxruntime-node blocks the loop for the whole run
    const t = await timedRun(inThread);
    expect(t.maxGap).toBeGreaterThan(t.ms / 2);
  });

  test("a closed backend refuses further work", async () => {
    for (const worker of [true, false]) {
      const b = createNodeBackend({ worker });
      const g = new Graph("double");
      g.output("y", op.mul(g.input("x", "float32", [3]), 2));
      const s = await b.load({ graph: g });
      await b.close();
      await expect(s.run({ x: Tensor.from("float32", [3], [1, 2, 3]) })).rejects.toThrow(/released|closed/);
      await expect(b.load({ graph: g })).rejects.toThrow(/the backend was closed/);
      await b.close(); // idempotent
    }
  });

  test("a process with an idle backend and live sessions exits by itself", async () => {
    const r = await runTs(fileURLToPath(new URL("./fixtures-ts/idle-exit.ts", import.meta.url)), {}, 30_000);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<{ y: number[] }>(r.stdout).y).toEqual([2, 4, 6]);
  });
});
