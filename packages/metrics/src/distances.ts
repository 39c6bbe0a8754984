// Pairwise squared distances through a core Backend (ORT CPU's SGEMM, CUDA, WebGPU): the heavy part
// of precision/recall (50,000 x 50,000 x 2048 multiply-adds for ADM's sample radii).
import type { Backend, Session, SessionOptions } from "@flowturbo/core";
import { toHost } from "@flowturbo/core";
import { Graph, op, Tensor } from "@flowturbo/tensor";
import type { PairwiseDistances } from "./precisionRecall";

/** Graph u [rows, dim], v [cols, dim] -> d [rows, cols] = max(|u|^2 - 2 u v^T + |v|^2, 0) (ADM's formula), float32. */
export function pairwiseDistanceGraph(rows: number, cols: number, dim: number): Graph {
  const g = new Graph(`pairwise_sq_dist_${rows}x${cols}x${dim}`);
  const u = g.input("u", "float32", [rows, dim]);
  const v = g.input("v", "float32", [cols, dim]);
  const nu = op.reduceSum(op.mul(u, u), [1], true); // [rows, 1]
  const nv = op.reshape(op.reduceSum(op.mul(v, v), [1], true), [1, cols]);
  const uv = op.matmul(u, op.transpose(v, [1, 0]));
  g.output("d", op.maximum(op.add(op.sub(nu, op.mul(uv, 2)), nv), 0));
  return g;
}

export interface BackendDistances {
  distances: PairwiseDistances;
  release(): Promise<void>;
}

/**
 * A PairwiseDistances that runs fixed-size blocks (block x block, zero-padded) through `backend`.
 * Use the same `block` as precisionRecall's `blockSize`.
 */
export function backendDistances(
  backend: Backend,
  options: { block?: number; session?: SessionOptions } = {},
): BackendDistances {
  const block = options.block ?? 4096;
  const sessions = new Map<number, Promise<Session>>();
  const session = (dim: number) => {
    let s = sessions.get(dim);
    if (!s) {
      s = backend.load({ graph: pairwiseDistanceGraph(block, block, dim) }, options.session);
      sessions.set(dim, s);
    }
    return s;
  };
  const pad = (x: Float32Array, n: number, dim: number) => {
    if (n === block) return new Tensor("float32", [block, dim], x);
    const t = new Float32Array(block * dim);
    t.set(x.subarray(0, n * dim));
    return new Tensor("float32", [block, dim], t);
  };
  const distances: PairwiseDistances = async (u, nu, v, nv, dim) => {
    if (nu > block || nv > block) throw new Error(`backendDistances: blocks of ${nu}x${nv} exceed ${block}`);
    const s = await session(dim);
    const res = await s.run({ u: pad(u, nu, dim), v: pad(v, nv, dim) });
    const d = (await toHost(res.d)).toFloat32();
    if (nu === block && nv === block) return d;
    const out = new Float32Array(nu * nv);
    for (let i = 0; i < nu; i++) out.set(d.subarray(i * block, i * block + nv), i * nv);
    return out;
  };
  return {
    distances,
    async release() {
      for (const s of sessions.values()) await (await s).release();
      sessions.clear();
    },
  };
}
