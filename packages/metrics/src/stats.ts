// Streaming feature statistics in float64: n, the sum and the sum of outer products, mergeable
// across shards; mean and covariance (ddof 1, as np.cov) come out at the end.

/** Mean and covariance of a set of feature vectors (what FID compares). */
export interface GaussianStats {
  /** Feature dimension. */
  dim: number;
  /** Mean, length dim. */
  mu: Float64Array;
  /** Covariance (ddof 1, np.cov(rowvar=False)), row-major dim x dim. */
  sigma: Float64Array;
  /** Number of feature vectors, when known (ADM reference batches do not record it). */
  n?: number;
}

/**
 * The raw sums of a set of feature vectors, in float64: what a shard of a sampling job saves so that
 * FID/sFID of the whole job can be computed without moving images. Parts merge by adding (`mergeMoments`).
 */
export interface FeatureMoments {
  dim: number;
  /** Number of feature vectors. */
  n: number;
  /** sum x, length dim. */
  sum: Float64Array;
  /**
   * sum x x^T, upper triangle packed row by row (entries (0,0..d-1), (1,1..d-1), ...; numpy:
   * `S[np.triu_indices(d)]`), length dim (dim + 1) / 2.
   */
  sumOuter: Float64Array;
  /** Compensation terms: the sums are sum + sumLo and sumOuter + sumOuterLo (when present). */
  sumLo?: Float64Array;
  sumOuterLo?: Float64Array;
}

/** Feature vectors folded into the sums per pass over the d x d triangle. */
const BLOCK = 32;

/**
 * o[i][j] += sum_{p < k} xt[i][p] xt[j][p] for j >= i, xt row-major dim x BLOCK (only the first k
 * columns used): 2x2 register-blocked dot products, one pass over the triangle per block of rows.
 */
function addUpperGram(o: Float64Array, xt: Float64Array, d: number, k: number): void {
  for (let i = 0; i < d; i += 2) {
    const two = i + 1 < d;
    const a0 = i * BLOCK;
    const a1 = two ? a0 + BLOCK : a0;
    for (let j = i; j < d; j += 2) {
      const twoB = j + 1 < d;
      const b0 = j * BLOCK;
      const b1 = twoB ? b0 + BLOCK : b0;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = xt[a0 + p];
        const x1 = xt[a1 + p];
        const y0 = xt[b0 + p];
        const y1 = xt[b1 + p];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      const oi = i * d + j;
      o[oi] += s00;
      if (twoB) o[oi + 1] += s01;
      if (two) {
        if (j > i) o[oi + d] += s10; // (i+1, j); for j == i it is below the diagonal
        if (twoB) o[oi + d + 1] += s11;
      }
    }
  }
}

/** Rows of a row-major [n, dim] feature matrix. */
export type FeatureRows = Float32Array | Float64Array | readonly number[];

/**
 * Accumulates n, sum x and sum x x^T in float64 (only the upper triangle is accumulated; the
 * covariance is mirrored from it). Shards accumulated separately merge exactly with `merge` (sums add), in any order.
 */
export class StatsAccumulator {
  private _n = 0;
  readonly sum: Float64Array;
  /** Upper triangle (row-major, full storage) of sum x x^T. */
  readonly sumOuter: Float64Array;
  private readonly block: Float64Array;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`StatsAccumulator: bad dimension ${dim}`);
    this.sum = new Float64Array(dim);
    this.sumOuter = new Float64Array(dim * dim);
    this.block = new Float64Array(BLOCK * dim);
  }

  get n(): number {
    return this._n;
  }

  /** Adds `count` feature vectors given as a row-major [count, dim] array (count inferred if omitted). */
  add(rows: FeatureRows, count?: number): this {
    const d = this.dim;
    const m = count ?? rows.length / d;
    if (!Number.isInteger(m) || m * d > rows.length) {
      throw new Error(
        `StatsAccumulator.add: ${rows.length} values are not ${count ?? "a whole number of"} rows of ${d}`,
      );
    }
    const s = this.sum;
    const xt = this.block; // dim x BLOCK, transposed rows of the current block
    for (let r = 0; r < m; r += BLOCK) {
      const k = Math.min(BLOCK, m - r);
      for (let q = 0; q < k; q++) {
        const base = (r + q) * d;
        for (let i = 0; i < d; i++) {
          const v = +rows[base + i];
          if (!Number.isFinite(v)) {
            throw new Error(`StatsAccumulator.add: non-finite feature at row ${r + q}, column ${i}`);
          }
          xt[i * BLOCK + q] = v;
          s[i] += v;
        }
      }
      addUpperGram(this.sumOuter, xt, d, k);
      this._n += k;
    }
    return this;
  }

  /** Adds another accumulator's sums (shards of one feature set). */
  merge(other: StatsAccumulator): this {
    if (other.dim !== this.dim)
      throw new Error(`StatsAccumulator.merge: dimension ${other.dim} != ${this.dim}`);
    for (let i = 0; i < this.dim; i++) this.sum[i] += other.sum[i];
    for (let i = 0; i < this.sumOuter.length; i++) this.sumOuter[i] += other.sumOuter[i];
    this._n += other._n;
    return this;
  }

  /** Rebuilds the sums from saved statistics (n, mu, sigma with ddof 1), e.g. to merge stats files. */
  static fromStats(stats: GaussianStats): StatsAccumulator {
    const n = stats.n;
    if (n === undefined || !Number.isInteger(n) || n < 1) {
      throw new Error("StatsAccumulator.fromStats: the statistics do not record their sample count n");
    }
    const d = stats.dim;
    const acc = new StatsAccumulator(d);
    for (let i = 0; i < d; i++) acc.sum[i] = n * stats.mu[i];
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        acc.sumOuter[i * d + j] =
          (n > 1 ? (n - 1) * stats.sigma[i * d + j] : 0) + n * stats.mu[i] * stats.mu[j];
      }
    }
    acc._n = n;
    return acc;
  }

  /** The raw sums (copies): n, sum x and the packed upper triangle of sum x x^T (see FeatureMoments). */
  moments(): FeatureMoments {
    const d = this.dim;
    const packed = new Float64Array((d * (d + 1)) / 2);
    let k = 0;
    for (let i = 0; i < d; i++) {
      packed.set(this.sumOuter.subarray(i * d + i, (i + 1) * d), k);
      k += d - i;
    }
    return { dim: d, n: this._n, sum: this.sum.slice(), sumOuter: packed };
  }

  /**
   * An accumulator holding saved sums (the inverse of `moments()`, exact). Compensation terms
   * (`sumLo`, `sumOuterLo`) are folded in: each sum becomes the float64 nearest to sum + lo.
   */
  static fromMoments(m: FeatureMoments): StatsAccumulator {
    const d = m.dim;
    if (!Number.isInteger(m.n) || m.n < 0) throw new Error(`feature moments: bad count n = ${m.n}`);
    if (m.sum.length !== d || m.sumOuter.length !== (d * (d + 1)) / 2) {
      throw new Error(
        `feature moments: sum has ${m.sum.length} and sum_outer ${m.sumOuter.length} values, expected ${d} and ${(d * (d + 1)) / 2} for dimension ${d}`,
      );
    }
    const acc = new StatsAccumulator(d);
    for (let i = 0; i < d; i++) acc.sum[i] = m.sum[i] + (m.sumLo ? m.sumLo[i] : 0);
    const lo = m.sumOuterLo;
    let k = 0;
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++, k++) acc.sumOuter[i * d + j] = m.sumOuter[k] + (lo ? lo[k] : 0);
    }
    acc._n = m.n;
    return acc;
  }

  /** mu = sum / n; sigma = (sum x x^T - n mu mu^T) / (n - 1) (np.cov, ddof 1). Needs n >= 2. */
  stats(): GaussianStats {
    const n = this._n;
    const d = this.dim;
    if (n < 2) throw new Error(`covariance needs at least 2 feature vectors, got ${n}`);
    const mu = new Float64Array(d);
    for (let i = 0; i < d; i++) mu[i] = this.sum[i] / n;
    const sigma = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        // (S - s_i s_j / n) / (n - 1) keeps the cancellation in one subtraction
        const v = (this.sumOuter[i * d + j] - (this.sum[i] * this.sum[j]) / n) / (n - 1);
        sigma[i * d + j] = v;
        sigma[j * d + i] = v;
      }
    }
    return { dim: d, mu, sigma, n };
  }
}

/** Mean and covariance (ddof 1) of a row-major [n, dim] feature matrix. */
export function featureStats(rows: FeatureRows, dim: number): GaussianStats {
  return new StatsAccumulator(dim).add(rows).stats();
}
