// Benchmark (not a test): ORT CPU (backend-node), the float64 reference interpreter and ORT WASM
// (backend-web under Node) on a 1024x1024 MatMul and one transformer block (hidden 384, 256 tokens,
// 6 heads) in both graph forms (plain, fused). Prints a table of median times and GFLOP/s with the
// WASM / native ratio per workload, then one JSON line.
//   pnpm bench                         (BENCH_RUNS=9 BENCH_INTERP_RUNS=2 to change the run counts)
import { availableParallelism, cpus } from "node:os";
import type { Backend, Session } from "@flowturbo/core";
import { createWebBackend } from "@flowturbo/backend-web";
import { F, Graph, type GraphForm, interpret, nn, op, Scope, Tensor } from "@flowturbo/tensor";
import { createNodeBackend } from "../src";

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const INTERP_RUNS = Number(process.env.BENCH_INTERP_RUNS ?? 2);

interface Workload {
  name: string;
  graph: Graph;
  weights: Map<string, Tensor>;
  feeds: Record<string, Tensor>;
  flops: number;
}

function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sin(seed * 7.31 + i * 0.618);
  return out;
}

function withData(g: Graph, name: string, inputs: Record<string, number[]>): Workload {
  const weights = new Map<string, Tensor>();
  let seed = 1;
  for (const [key, p] of g.params) {
    const shape = [...p.value.shape];
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    weights.set(key, new Tensor("float32", shape, values(n, seed++, 1 / Math.sqrt(fanIn))));
  }
  const feeds: Record<string, Tensor> = {};
  for (const [k, shape] of Object.entries(inputs)) {
    feeds[k] = new Tensor(
      "float32",
      shape,
      values(
        shape.reduce((a, b) => a * b, 1),
        100 + seed++,
        1,
      ),
    );
  }
  return { name, graph: g, weights, feeds, flops: countFlops(g) };
}

/** Multiply-adds of MatMul/Gemm nodes, times 2 (elementwise work is not counted). */
function countFlops(g: Graph): number {
  let flops = 0;
  for (const n of g.nodes) {
    if (n.op !== "MatMul" && n.op !== "Gemm") continue;
    const a = n.inputs[0].shape;
    const k = n.op === "Gemm" && n.attrs.transA ? a[0] : a[a.length - 1];
    const out = n.outputs[0].shape.reduce((x, y) => x * y, 1);
    flops += 2 * out * k;
  }
  return flops;
}

function matmulWorkload(): Workload {
  const g = new Graph("matmul_1024");
  const x = g.input("x", "float32", [1024, 1024]);
  g.output("y", op.matmul(x, g.param("w", [1024, 1024])));
  return withData(g, "MatMul 1024x1024x1024", { x: [1024, 1024] });
}

/**
 * Pre-norm block: x + attn(LN(x)); h + fc2(gelu_tanh(fc1(LN(h)))). Form "plain": attention as MatMul/Softmax/
 * Transpose/Reshape and GELU as its tanh formula; "fused": com.microsoft MultiHeadAttention and FastGelu
 * with the fc1 bias (what sit/refiner emit for ONNX Runtime).
 */
function transformerWorkload(form: GraphForm): Workload {
  const [T, D, H] = [256, 384, 6];
  const g = new Graph(`transformer_block_${form}`);
  const x = g.input("x", "float32", [1, T, D]);
  const s = new Scope(g, "block");
  const attn = nn.attention(s.child("attn"), nn.layerNorm(s.child("norm1"), x, { eps: 1e-6 }), H, { form });
  const h = op.add(x, attn);
  const fc1 = s.child("mlp").child("fc1");
  const normed = nn.layerNorm(s.child("norm2"), h, { eps: 1e-6 });
  const hidden =
    form === "fused"
      ? op.fastGelu(nn.linear(fc1, normed, 4 * D, { bias: false }), fc1.param("bias", [4 * D]))
      : F.gelu(nn.linear(fc1, normed, 4 * D), "tanh");
  g.output("y", op.add(h, nn.linear(s.child("mlp").child("fc2"), hidden, D)));
  return withData(g, `Transformer block (T=${T}, D=${D}, ${H} heads, ${form})`, { x: [1, T, D] });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Row {
  workload: string;
  engine: string;
  provider: string;
  runs: number;
  medianMs: number;
  minMs: number;
  gflops: number;
  maxRelErr?: number;
}

function relErr(got: Tensor, ref: Tensor): number {
  const a = got.toFloat64();
  const b = ref.toFloat64();
  let maxRef = 1e-3;
  let maxDiff = 0;
  for (let i = 0; i < b.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(b[i]));
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  }
  return maxDiff / maxRef;
}

async function time(runs: number, fn: () => Promise<unknown> | unknown): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms;
}

function progress(msg: string): void {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1)}s] ${msg}\n`);
}

async function benchBackend(w: Workload, engine: string, backend: Backend, reference: Tensor): Promise<Row> {
  progress(`${w.name}: ${engine}`);
  const session: Session = await backend.load({ graph: w.graph, weights: w.weights });
  const out = (await session.run(w.feeds)).y as Tensor; // warm-up
  const ms = await time(RUNS, () => session.run(w.feeds));
  await session.release();
  const med = median(ms);
  return {
    workload: w.name,
    engine,
    provider: session.provider,
    runs: RUNS,
    medianMs: med,
    minMs: Math.min(...ms),
    gflops: w.flops / med / 1e6,
    maxRelErr: relErr(out, reference),
  };
}

async function main() {
  const threads = availableParallelism();
  const node = createNodeBackend({ threads });
  const web = createWebBackend({ providers: ["wasm"], threads });
  const ortWeb = await web.ort();
  const rows: Row[] = [];
  for (const w of [matmulWorkload(), transformerWorkload("plain"), transformerWorkload("fused")]) {
    progress(`${w.name}: ${(w.flops / 1e9).toFixed(3)} GFLOP per run; reference interpreter`);
    let reference: Tensor | undefined;
    const ims = await time(INTERP_RUNS, () => {
      reference = interpret(w.graph, w.feeds, { weights: w.weights }).y;
    });
    const imed = median(ims);
    rows.push({
      workload: w.name,
      engine: "reference interpreter (float64 JS)",
      provider: "js",
      runs: INTERP_RUNS,
      medianMs: imed,
      minMs: Math.min(...ims),
      gflops: w.flops / imed / 1e6,
    });
    rows.push(await benchBackend(w, `backend-node ORT CPU (worker, ${threads} threads)`, node, reference!));
    rows.push(
      await benchBackend(
        w,
        `backend-web ORT WASM (${ortWeb.env.wasm.numThreads} threads, SIMD)`,
        web,
        reference!,
      ),
    );
  }
  await node.close();
  await web.close();

  const pad = (s: string, n: number) => s.padEnd(n);
  const lpad = (s: string, n: number) => s.padStart(n);
  console.log(
    `\nCPU: ${cpus()[0]?.model ?? "?"} x${threads}; Node ${process.version}; onnxruntime-node/web ${ortWeb.env.versions.web}`,
  );
  for (const wname of new Set(rows.map((r) => r.workload))) {
    console.log(`\n${wname}`);
    console.log(
      `  ${pad("engine", 46)}${lpad("median ms", 11)}${lpad("min ms", 10)}${lpad("GFLOP/s", 10)}${lpad("runs", 6)}  max rel err`,
    );
    for (const r of rows.filter((x) => x.workload === wname)) {
      console.log(
        `  ${pad(r.engine, 46)}${lpad(r.medianMs.toFixed(2), 11)}${lpad(r.minMs.toFixed(2), 10)}${lpad(r.gflops.toFixed(2), 10)}${lpad(String(r.runs), 6)}  ${r.maxRelErr === undefined ? "(reference)" : r.maxRelErr.toExponential(1)}`,
      );
    }
    const native = rows.find((r) => r.workload === wname && r.provider === "cpu");
    const wasm = rows.find((r) => r.workload === wname && r.provider === "wasm");
    if (native && wasm) {
      const ratio = (a: number, b: number) => (a / b).toFixed(2);
      console.log(
        `  ORT WASM / ORT CPU native: ${ratio(wasm.medianMs, native.medianMs)}x (median), ${ratio(wasm.minMs, native.minMs)}x (min)`,
      );
    }
  }
  console.log(JSON.stringify({ bench: "backend-compare", threads, node: process.version, rows }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
