import type { GraphProto, ModelProto, ValueInfoProto } from "../../src/index";

/** A tensor ValueInfo; string dims are symbolic (dim_param). */
export function tensorInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  const dim = dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/** An IR 10 / opset 18 model around `graph`. */
export function modelOf(graph: GraphProto): ModelProto {
  return {
    irVersion: 10,
    opsetImport: [{ domain: "", version: 18 }],
    producerName: "flowturbo-test",
    producerVersion: "0",
    graph,
  };
}

/** Row-major [m,k] x [k,n] reference matmul plus a bias row. */
export function matmulBias(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
) {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = b[j];
      for (let p = 0; p < k; p++) s += x[i * k + p] * w[p * n + j];
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
