// The conformance suite every backend adapter runs: one small graph per op family, compared with
// the float64 reference interpreter.
import { F, Graph, interpret, nn, op, Scope, Tensor } from "@flowturbo/tensor";
import { type Backend, type SessionOptions, toHost } from "./backend";

export interface ConformanceCase {
  name: string;
  graph: Graph;
  feeds: Record<string, Tensor>;
  weights: Map<string, Tensor>;
  /** Allowed max |backend - reference| / max(|reference|, 1e-3) for float32 execution. */
  tolerance: number;
  /**
   * Outputs computed with sin/cos: WGSL only guarantees those to an absolute error of 2^-11 on
   * [-pi, pi], so on the webgpu provider they are held to WEBGPU_TRIG_TOLERANCE instead.
   */
  trigOutputs?: readonly string[];
}

/** The tolerance of trig outputs on WebGPU (WGSL's sin/cos accuracy, 2^-11 ~ 4.9e-4, with margin). */
export const WEBGPU_TRIG_TOLERANCE = 1e-3;

/** Deterministic values in [-scale, scale): a hash of (seed, index), the same in every JS engine. */
export function detValues(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0;
    z = Math.imul(z ^ (z >>> 15), 0x2c1b3c6d) >>> 0;
    z = Math.imul(z ^ (z >>> 12), 0x297a2d39) >>> 0;
    z = (z ^ (z >>> 15)) >>> 0;
    out[i] = scale * (2 * (z / 2 ** 32) - 1);
  }
  return out;
}

function det(shape: number[], seed: number, scale = 1): Tensor {
  return new Tensor(
    "float32",
    shape,
    detValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  );
}

/** Builds a case: `build` declares inputs/params and outputs; weights are filled deterministically. */
function makeCase(name: string, build: (g: Graph) => void, tolerance = 1e-5): ConformanceCase {
  const g = new Graph(name);
  build(g);
  const feeds: Record<string, Tensor> = {};
  g.inputs.forEach(({ value }, i) => {
    if (value.dtype === "float32") feeds[value.name!] = det([...value.shape], 100 + i);
  });
  const weights = new Map<string, Tensor>();
  let seed = 1;
  for (const [key, p] of g.params) {
    const fanIn = p.value.shape.length > 1 ? p.value.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    weights.set(key, det([...p.value.shape], seed++, 1 / Math.sqrt(fanIn)));
  }
  return { name, graph: g, feeds, weights, tolerance };
}

/** One case per op family of the IR. */
export function conformanceCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [
    makeCase("elementwise", (g) => {
      const a = g.input("a", "float32", [2, 3, 4]);
      const b = g.input("b", "float32", [3, 1]);
      const pos = op.add(op.abs(a), 0.5);
      g.output("arith", op.div(op.sub(op.mul(a, b), op.pow(pos, op.scalar(g, 1.5))), op.add(op.abs(b), 1)));
      g.output("unary", op.add(op.add(op.exp(a), op.log(pos)), op.add(op.sqrt(pos), op.reciprocal(pos))));
      g.output("trig", op.add(op.sin(op.mul(a, 3)), op.cos(op.mul(b, 2))));
      g.output("minmax", op.sub(op.maximum(a, b), op.minimum(a, op.neg(b))));
      g.output(
        "select",
        op.where(
          op.greater(a, b),
          op.floor(op.mul(a, 4)),
          op.cast(op.cast(op.mul(b, 5), "int64"), "float32"),
        ),
      );
    }),
    makeCase("activations", (g) => {
      const x = g.input("x", "float32", [4, 16]);
      const s = op.mul(x, 4);
      g.output("gelu_tanh", F.gelu(s, "tanh"));
      g.output("gelu_erf", F.gelu(s, "none"));
      g.output("silu", F.silu(s));
      g.output("misc", op.add(op.add(op.tanh(s), op.sigmoid(s)), op.relu(s)));
    }),
    makeCase("matmul", (g) => {
      const a = g.input("a", "float32", [2, 5, 8]);
      const b = g.input("b", "float32", [8, 3]);
      g.output("batched", op.matmul(a, b));
      g.output("linear", nn.linear(new Scope(g, "fc"), a, 6));
      const a2 = g.input("a2", "float32", [4, 8]);
      g.output("gemm", op.gemm(a2, g.param("gw", [6, 8]), g.param("gb", [6]), { transB: true }));
    }),
    makeCase("normalization", (g) => {
      const x = g.input("x", "float32", [2, 8, 3, 3]);
      g.output("group_norm", nn.groupNorm(new Scope(g, "gn"), x, 4, { eps: 1e-6 }));
      const t = g.input("t", "float32", [2, 5, 16]);
      g.output("layer_norm", nn.layerNorm(new Scope(g, "ln"), t, { eps: 1e-6 }));
      g.output("layer_norm_plain", F.layerNorm(t, 1e-6));
      g.output("softmax", op.softmax(op.mul(t, 5), -1));
    }),
    makeCase("conv", (g) => {
      const x = g.input("x", "float32", [2, 4, 9, 9]);
      g.output("conv3x3", nn.conv2d(new Scope(g, "c1"), x, 6, { kernel: 3, padding: 1 }));
      g.output("conv_stride", nn.conv2d(new Scope(g, "c2"), x, 5, { kernel: 3, stride: 2 }));
      g.output("conv_patch", nn.conv2d(new Scope(g, "c3"), x, 8, { kernel: 3, stride: 3 }));
      g.output("conv_grouped", nn.conv2d(new Scope(g, "c4"), x, 4, { kernel: 1, groups: 2, bias: false }));
      g.output(
        "conv_asym_pad",
        op.conv(x, g.param("c5.weight", [3, 4, 3, 3]), undefined, { strides: [2, 2], pads: [0, 0, 1, 1] }),
      );
    }),
    makeCase("pooling", (g) => {
      const x = g.input("x", "float32", [1, 3, 8, 8]);
      g.output("max", op.maxPool(x, { kernel: [3, 3], strides: [2, 2] }));
      g.output("avg_pad", op.averagePool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }));
      g.output(
        "avg_pad_incl",
        op.averagePool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], countIncludePad: true }),
      );
      g.output("global", op.globalAveragePool(x));
    }),
    makeCase("resize", (g) => {
      const x = g.input("x", "float32", [1, 2, 5, 7]);
      g.output("bilinear_up", op.resize(x, [1, 2, 12, 9], { mode: "linear" }));
      g.output("bilinear_down", op.resize(x, [1, 2, 3, 4], { mode: "linear" }));
      g.output(
        "nearest2x",
        op.resize(x, [1, 2, 10, 14], { mode: "nearest", coordinateTransformation: "asymmetric" }),
      );
    }),
    makeCase("shape", (g) => {
      const x = g.input("x", "float32", [2, 3, 4, 5]);
      const r = op.reshape(x, [0, 3, -1]);
      g.output("transpose", op.transpose(r, [2, 0, 1]));
      g.output(
        "slice",
        op.slice(x, { starts: [1, 0, -3], ends: [3, 3, 5], axes: [1, 2, 3], steps: [1, 2, 1] }),
      );
      const [a, b, c] = op.split(x, [1, 2, 2], 3);
      g.output("concat", op.concat([c, a, b], 3));
      g.output("squeeze", op.squeeze(op.unsqueeze(a, [0]), [0, 4]));
      g.output("expand", op.expand(op.slice(x, { starts: [0], ends: [1], axes: [0] }), [3, 3, 4, 5]));
      g.output("pad", op.pad(x, [0, 0, 1, 2, 0, 0, 2, 1], 0.5));
      const idx = g.input("idx", "int64", [3]);
      g.output("gather", op.gather(x, idx, 2));
    }),
    makeCase("reductions", (g) => {
      const x = g.input("x", "float32", [3, 4, 5]);
      g.output("sum", op.reduceSum(x, [1]));
      g.output("mean", op.reduceMean(x, [0, 2], false));
      g.output("max", op.reduceMax(x, [-1]));
    }),
    makeCase("embedding", (g) => {
      const y = g.input("y", "int64", [4]);
      const t = g.input("t", "float32", [4]);
      const freqs = op.constant(
        g,
        Tensor.from(
          "float32",
          [1, 8],
          Array.from({ length: 8 }, (_, k) => Math.exp((-Math.log(10000) * k) / 8)),
        ),
      );
      const args = op.mul(op.unsqueeze(t, [1]), freqs);
      const temb = op.concat([op.cos(args), op.sin(args)], 1);
      g.output("emb", op.add(nn.embedding(new Scope(g, "table"), y, 11, 16), temb));
    }),
    makeCase("transformer_block", (g) => {
      const x = g.input("x", "float32", [2, 16, 64]);
      const s = new Scope(g, "block");
      const h = op.add(x, nn.attention(s.child("attn"), F.layerNorm(x, 1e-6), 4));
      const m = nn.linear(
        s.child("fc2"),
        F.gelu(nn.linear(s.child("fc1"), F.layerNorm(h, 1e-6), 256), "tanh"),
        64,
      );
      g.output("y", op.add(h, m));
    }),
    // the fused graph form: ONNX Runtime's contrib ops (com.microsoft), one kernel each
    makeCase("fused_ops", (g) => {
      const x = g.input("x", "float32", [2, 5, 16]);
      const b = g.input("b", "float32", [16]);
      g.output("fast_gelu", op.fastGelu(op.mul(x, 4), b));
      g.output("fast_gelu_nobias", op.fastGelu(op.mul(x, 3)));
      const k = g.input("k", "float32", [2, 7, 16]);
      const v = g.input("v", "float32", [2, 7, 12]);
      g.output("mha", op.multiHeadAttention(op.mul(x, 3), op.mul(k, 3), v, 2));
      g.output("mha_scale", op.multiHeadAttention(x, k, v, 4, 0.9));
    }),
    makeCase("transformer_block_fused", (g) => {
      const x = g.input("x", "float32", [2, 16, 64]);
      const s = new Scope(g, "block");
      const h = op.add(x, nn.attention(s.child("attn"), F.layerNorm(x, 1e-6), 4, { form: "fused" }));
      const fc1 = nn.linear(s.child("fc1"), F.layerNorm(h, 1e-6), 256, { bias: false });
      const m = nn.linear(s.child("fc2"), op.fastGelu(fc1, s.child("fc1").param("bias", [256])), 64);
      g.output("y", op.add(h, m));
    }),
  ];
  const shape = cases.find((c) => c.name === "shape")!;
  shape.feeds.idx = Tensor.from("int64", [3], [3, 0, -1]);
  const emb = cases.find((c) => c.name === "embedding")!;
  emb.feeds.y = Tensor.from("int64", [4], [0, 10, 3, 3]);
  emb.trigOutputs = ["emb"];
  cases.find((c) => c.name === "elementwise")!.trigOutputs = ["trig"];
  return cases;
}

export interface ConformanceResult {
  name: string;
  /** The provider that actually ran the case. */
  provider: string;
  output: string;
  /** max |backend - reference| / max(max |reference|, 1e-3) */
  relError: number;
  /** The bound it was held to. */
  tolerance: number;
  passed: boolean;
}

/** Runs every case on the backend and compares each output with the reference interpreter. */
export async function runConformance(
  backend: Backend,
  opts: SessionOptions = {},
  cases: ConformanceCase[] = conformanceCases(),
): Promise<ConformanceResult[]> {
  const results: ConformanceResult[] = [];
  for (const c of cases) {
    const reference = interpret(c.graph, c.feeds, { weights: c.weights });
    const session = await backend.load({ graph: c.graph, weights: c.weights }, opts);
    try {
      const got = await session.run(c.feeds);
      for (const [name, ref] of Object.entries(reference)) {
        const value = got[name];
        if (!value) throw new Error(`${backend.name}: case '${c.name}' returned no output '${name}'`);
        const host = await toHost(value);
        const r = ref.toFloat64();
        const h = host.toFloat64();
        let maxRef = 1e-3;
        let maxDiff = h.length === r.length ? 0 : Number.POSITIVE_INFINITY;
        for (let i = 0; i < r.length; i++) {
          maxRef = Math.max(maxRef, Math.abs(r[i]));
          const d = Math.abs(r[i] - h[i]);
          maxDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxDiff, d);
        }
        const relError = maxDiff / maxRef;
        const trig = session.provider === "webgpu" && c.trigOutputs?.includes(name);
        const tolerance = trig ? WEBGPU_TRIG_TOLERANCE : c.tolerance;
        results.push({
          name: c.name,
          provider: session.provider,
          output: name,
          relError,
          tolerance,
          passed: relError <= tolerance,
        });
      }
    } finally {
      await session.release();
    }
  }
  return results;
}
