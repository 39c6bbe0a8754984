import { fileURLToPath } from "node:url";
import { Graph, op, Tensor } from "@flowturbo/tensor";
import { afterAll, describe, expect, test } from "vitest";
import { createNodeBackend, type NodeBackend } from "../src";
import { lastJson, runTs } from "@flowturbo/test-support";

const N = 1024;
const CHAIN = 6;

/** y = x @ w @ w @ ... (CHAIN MatMuls of N x N: ~13 GFLOP, about a second on one thread). */
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

/**
 * Runs once and counts the caller's event-loop turns (a setImmediate chain) while the run is in flight: a
 * count per unit of work, not a duration, so a slow or busy machine changes nothing.
 */
async function turnsDuringRun(backend: NodeBackend): Promise<number> {
  const session = await backend.load({ graph: matmulChain() });
  const f = feeds();
  await session.run(f); // warm-up
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  const pending = session.run(f).finally(() => {
    done = true;
  });
  setImmediate(spin);
  const out = await pending;
  await session.release();
  expect((out.y as Tensor).shape).toEqual([N, N]);
  return turns;
}

describe("worker thread", () => {
  const worker = createNodeBackend();
  const inThread = createNodeBackend({ worker: false });
  afterAll(async () => {
    await worker.close();
    await inThread.close();
  });

  test("the caller's event loop keeps turning during a long run in the worker", async () => {
    // ~13 GFLOP take at least tens of milliseconds anywhere; a free event loop turns in microseconds
    expect(await turnsDuringRun(worker)).toBeGreaterThan(100);
    // control: in the caller's thread, onnxruntime-node blocks the loop for the whole run
    expect(await turnsDuringRun(inThread)).toBeLessThanOrEqual(2);
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
    const r = await runTs(fileURLToPath(new URL("./fixtures-ts/idle-exit.ts", import.meta.url)));
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<{ y: number[] }>(r.stdout).y).toEqual([2, 4, 6]);
  });

  // process.exit() while the worker was inside ORT's native run used to abort the whole process with
  // "terminate called after throwing an instance of 'Napi::Error'" (exit code 134): Node tore the worker
  // down mid-call. The exit now waits for the call in hand; close() waits for queued runs.
  test.each(["exit", "close"])("%s while a run is inside ONNX Runtime: no abort", async (mode) => {
    const r = await runTs(fileURLToPath(new URL("./fixtures-ts/exit-mid-run.ts", import.meta.url)), {
      args: [mode],
    });
    expect(r.stderr).not.toMatch(/terminate called|Napi::Error/);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 0, signal: null });
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ busy: true });
    // close() lets the run in hand finish and answer before the worker stops
    if (mode === "close") expect(lines.slice(1)).toEqual([{ run: "resolved" }, { closed: true }]);
  });
});
