// Improved precision and recall (Kynkaanniemi et al. 2019) as ADM's evaluator computes them
// (openai/guided-diffusion evaluations/evaluator.py, ManifoldEstimator with nhood_sizes=(3,),
// no percentile clamp): squared Euclidean distances; the radius of a point is the (k+1)-th smallest
// squared distance to its own set (the point itself included, so the k-th nearest other point);
// precision = fraction of samples within (<=) the radius of some reference point, recall = fraction
// of reference points within the radius of some sample.

/**
 * Squared Euclidean distances between the rows of u (nu x dim) and v (nv x dim), row-major nu x nv,
 * as max(|u|^2 - 2 u.v + |v|^2, 0) like ADM's DistanceBlock. Pluggable so that a Backend (GPU) can
 * do the matrix products: see `backendDistances`.
 */
export type PairwiseDistances = (
  u: Float32Array,
  nu: number,
  v: Float32Array,
  nv: number,
  dim: number,
) => Float32Array | Promise<Float32Array>;

/** Pairwise squared distances on the CPU in float64 (rounded to float32 once). */
export const cpuDistances: PairwiseDistances = (u, nu, v, nv, dim) => {
  const out = new Float32Array(nu * nv);
  const nu2 = rowNorms(u, nu, dim);
  const nv2 = rowNorms(v, nv, dim);
  for (let i = 0; i < nu; i += 2) {
    const two = i + 1 < nu;
    const a0 = i * dim;
    const a1 = two ? a0 + dim : a0;
    for (let j = 0; j < nv; j += 2) {
      const twoB = j + 1 < nv;
      const b0 = j * dim;
      const b1 = twoB ? b0 + dim : b0;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let p = 0; p < dim; p++) {
        const x0 = u[a0 + p];
        const x1 = u[a1 + p];
        const y0 = v[b0 + p];
        const y1 = v[b1 + p];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      out[i * nv + j] = Math.max(nu2[i] - 2 * s00 + nv2[j], 0);
      if (twoB) out[i * nv + j + 1] = Math.max(nu2[i] - 2 * s01 + nv2[j + 1], 0);
      if (two) {
        out[(i + 1) * nv + j] = Math.max(nu2[i + 1] - 2 * s10 + nv2[j], 0);
        if (twoB) out[(i + 1) * nv + j + 1] = Math.max(nu2[i + 1] - 2 * s11 + nv2[j + 1], 0);
      }
    }
  }
  return out;
};

function rowNorms(x: Float32Array, n: number, dim: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let p = 0; p < dim; p++) s += x[i * dim + p] * x[i * dim + p];
    out[i] = s;
  }
  return out;
}

export interface ManifoldOptions {
  /** Neighbourhood size (ADM: 3). */
  k?: number;
  /** Rows per distance block (ADM: 10000); bounds memory at blockSize^2 floats. */
  blockSize?: number;
  distances?: PairwiseDistances;
}

function check(features: Float32Array, n: number, dim: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || features.length !== n * dim) {
    throw new Error(`${what}: ${features.length} values are not ${n} rows of ${dim}`);
  }
}

/**
 * The radius (a squared distance) of every row of `features` (n x dim): its (k+1)-th smallest squared
 * distance to all rows, itself included (ADM's manifold_radii).
 */
export async function manifoldRadii(
  features: Float32Array,
  n: number,
  dim: number,
  options: ManifoldOptions = {},
): Promise<Float32Array> {
  check(features, n, dim, "manifoldRadii");
  const k = options.k ?? 3;
  if (!Number.isInteger(k) || k < 1) throw new Error(`manifoldRadii: bad k ${k}`);
  if (n < k + 1) throw new Error(`manifoldRadii: ${n} feature vectors are too few for k = ${k}`);
  const bs = options.blockSize ?? 4096;
  const dist = options.distances ?? cpuDistances;
  const best = new Float64Array(n * (k + 1)).fill(Number.POSITIVE_INFINITY); // ascending per row
  for (let r0 = 0; r0 < n; r0 += bs) {
    const r1 = Math.min(r0 + bs, n);
    const rows = features.subarray(r0 * dim, r1 * dim);
    for (let c0 = 0; c0 < n; c0 += bs) {
      const c1 = Math.min(c0 + bs, n);
      const d = await dist(rows, r1 - r0, features.subarray(c0 * dim, c1 * dim), c1 - c0, dim);
      const nc = c1 - c0;
      for (let i = 0; i < r1 - r0; i++) {
        const b = (r0 + i) * (k + 1);
        for (let j = 0; j < nc; j++) {
          const x = d[i * nc + j];
          if (x >= best[b + k]) continue;
          let p = k;
          while (p > 0 && best[b + p - 1] > x) {
            best[b + p] = best[b + p - 1];
            p--;
          }
          best[b + p] = x;
        }
      }
    }
  }
  const radii = new Float32Array(n);
  for (let i = 0; i < n; i++) radii[i] = best[i * (k + 1) + k];
  return radii;
}

export interface PrecisionRecallResult {
  precision: number;
  recall: number;
  k: number;
  nRef: number;
  nSample: number;
}

/**
 * Precision and recall of `sample` features against `ref` features (both rows of dim, pool3 in ADM's
 * evaluator): k = 3 neighbourhoods, squared distances compared with <=.
 */
export async function precisionRecall(
  ref: Float32Array,
  nRef: number,
  sample: Float32Array,
  nSample: number,
  dim: number,
  options: ManifoldOptions & { refRadii?: Float32Array; sampleRadii?: Float32Array } = {},
): Promise<PrecisionRecallResult> {
  check(ref, nRef, dim, "precisionRecall (reference)");
  check(sample, nSample, dim, "precisionRecall (sample)");
  const k = options.k ?? 3;
  const bs = options.blockSize ?? 4096;
  const dist = options.distances ?? cpuDistances;
  const radiiRef = options.refRadii ?? (await manifoldRadii(ref, nRef, dim, options));
  const radiiSample = options.sampleRadii ?? (await manifoldRadii(sample, nSample, dim, options));
  const refIn = new Uint8Array(nRef); // recall: ref point inside some sample's ball
  const sampleIn = new Uint8Array(nSample); // precision: sample inside some ref point's ball
  for (let r0 = 0; r0 < nRef; r0 += bs) {
    const r1 = Math.min(r0 + bs, nRef);
    for (let c0 = 0; c0 < nSample; c0 += bs) {
      const c1 = Math.min(c0 + bs, nSample);
      const nc = c1 - c0;
      const d = await dist(
        ref.subarray(r0 * dim, r1 * dim),
        r1 - r0,
        sample.subarray(c0 * dim, c1 * dim),
        nc,
        dim,
      );
      for (let i = 0; i < r1 - r0; i++) {
        const ri = radiiRef[r0 + i];
        for (let j = 0; j < nc; j++) {
          const x = d[i * nc + j];
          if (x <= ri) sampleIn[c0 + j] = 1;
          if (x <= radiiSample[c0 + j]) refIn[r0 + i] = 1;
        }
      }
    }
  }
  let p = 0;
  for (const v of sampleIn) p += v;
  let r = 0;
  for (const v of refIn) r += v;
  return { precision: p / nSample, recall: r / nRef, k, nRef, nSample };
}
