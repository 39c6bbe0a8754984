// Feature moments of sharded runs: n, sum x and sum x x^T of each shard's features, kept as
// compensated float64 pairs (hi + lo, Knuth's TwoSum on every addition) so that the sums of a whole run
// do not depend on how its images were split into shards: products of float32 features are exact in
// float64, and the pairs carry ~106 bits, so the float64 nearest to a sum comes out the same whatever
// the order of the additions (except when the exact sum lies within ~2^-100 relative of a rounding
// boundary between two float64 values).
import type { BatchFeatures, FeatureConvention } from "./features";
import { type FeatureMoments, type FeatureRows, type GaussianStats, StatsAccumulator } from "./stats";

export const MOMENTS_FORMAT = "flowturbo-feature-moments";

/** The JSON stored as uint8 bytes in the `flowturbo_meta` member of a moments file. */
export interface MomentsMeta {
  format: typeof MOMENTS_FORMAT;
  version: 1;
  n: number;
  convention: FeatureConvention;
  /** Global sample indices [start, end) the features belong to (a shard of a sampling job). */
  range?: { start: number; end: number };
  source?: string;
}

/** Feature moments of a set of images: pool3 (FID) and spatial (sFID) sums. */
export interface MomentsFile {
  pool: FeatureMoments;
  spatial?: FeatureMoments;
  meta: MomentsMeta;
}

/** hi[k] += v, with the rounding error of that addition added to lo[k] (TwoSum). */
function twoSumInto(hi: Float64Array, lo: Float64Array, k: number, v: number): void {
  const h = hi[k];
  const s = h + v;
  const b = s - h;
  lo[k] += h - (s - b) + (v - b);
  hi[k] = s;
}

/** Accumulates feature moments as compensated pairs (order-independent to the last float64 bit). */
export class MomentsAccumulator {
  private _n = 0;
  readonly sum: Float64Array;
  readonly sumLo: Float64Array;
  readonly sumOuter: Float64Array;
  readonly sumOuterLo: Float64Array;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`MomentsAccumulator: bad dimension ${dim}`);
    const packed = (dim * (dim + 1)) / 2;
    this.sum = new Float64Array(dim);
    this.sumLo = new Float64Array(dim);
    this.sumOuter = new Float64Array(packed);
    this.sumOuterLo = new Float64Array(packed);
  }

  get n(): number {
    return this._n;
  }

  /** Adds `count` feature vectors given as a row-major [count, dim] array (count inferred if omitted). */
  add(rows: FeatureRows, count?: number): this {
    const d = this.dim;
    const m = count ?? rows.length / d;
    if (!Number.isInteger(m) || m * d > rows.length)
      throw new Error(
        `MomentsAccumulator.add: ${rows.length} values are not ${count ?? "a whole number of"} rows of ${d}`,
      );
    const x = new Float64Array(d);
    for (let r = 0; r < m; r++) {
      for (let i = 0; i < d; i++) {
        const v = +rows[r * d + i];
        if (!Number.isFinite(v))
          throw new Error(`MomentsAccumulator.add: non-finite feature at row ${r}, column ${i}`);
        x[i] = v;
        twoSumInto(this.sum, this.sumLo, i, v);
      }
      const hi = this.sumOuter;
      const lo = this.sumOuterLo;
      let k = 0;
      for (let i = 0; i < d; i++) {
        const xi = x[i];
        for (let j = i; j < d; j++, k++) {
          const p = xi * x[j];
          const h = hi[k];
          const s = h + p;
          const b = s - h;
          lo[k] += h - (s - b) + (p - b);
          hi[k] = s;
        }
      }
      this._n++;
    }
    return this;
  }

  /** Adds saved moments (a shard's), keeping the compensation. */
  merge(m: FeatureMoments): this {
    if (m.dim !== this.dim) throw new Error(`MomentsAccumulator.merge: dimension ${m.dim} != ${this.dim}`);
    if (m.sum.length !== this.dim || m.sumOuter.length !== this.sumOuter.length)
      throw new Error(`feature moments of dimension ${m.dim}: sum/sum_outer have the wrong lengths`);
    const add = (hi: Float64Array, lo: Float64Array, vHi: Float64Array, vLo?: Float64Array) => {
      for (let k = 0; k < hi.length; k++) {
        twoSumInto(hi, lo, k, vHi[k]);
        if (vLo) lo[k] += vLo[k];
      }
    };
    add(this.sum, this.sumLo, m.sum, m.sumLo);
    add(this.sumOuter, this.sumOuterLo, m.sumOuter, m.sumOuterLo);
    this._n += m.n;
    return this;
  }

  /** The sums (copies). */
  moments(): FeatureMoments {
    return {
      dim: this.dim,
      n: this._n,
      sum: this.sum.slice(),
      sumOuter: this.sumOuter.slice(),
      sumLo: this.sumLo.slice(),
      sumOuterLo: this.sumOuterLo.slice(),
    };
  }
}

/** Sums of several parts of one feature set (compensated: the order of the parts does not matter). */
export function mergeMoments(parts: readonly FeatureMoments[]): FeatureMoments {
  if (parts.length === 0) throw new Error("mergeMoments: no parts");
  const acc = new MomentsAccumulator(parts[0].dim);
  for (const p of parts) acc.merge(p);
  return acc.moments();
}

/**
 * mu and sigma (ddof 1) of saved sums: each sum rounded once to float64 (sum + lo), then exactly the
 * code of `StatsAccumulator.stats()`.
 */
export function momentsStats(m: FeatureMoments): GaussianStats {
  return StatsAccumulator.fromMoments(m).stats();
}

/** Pool3 (FID) and spatial (sFID) moments of a shard's images, in one feature convention. */
export class FeatureMomentsAccumulator {
  readonly pool = new MomentsAccumulator(2048);
  readonly spatial = new MomentsAccumulator(2023);
  private convention: FeatureConvention | undefined;

  get n(): number {
    return this.pool.n;
  }

  add(f: BatchFeatures, convention: FeatureConvention): void {
    if (this.convention && JSON.stringify(this.convention) !== JSON.stringify(convention))
      throw new Error(
        `features of different conventions in one set: ${JSON.stringify(this.convention)} and ${JSON.stringify(convention)}`,
      );
    this.convention = convention;
    this.pool.add(f.pool3, f.count);
    this.spatial.add(f.spatial, f.count);
  }

  moments(extra: Pick<MomentsMeta, "range" | "source"> = {}): MomentsFile {
    if (!this.convention) throw new Error("no images were given");
    return {
      pool: this.pool.moments(),
      spatial: this.spatial.moments(),
      meta: { format: MOMENTS_FORMAT, version: 1, n: this.n, convention: this.convention, ...extra },
    };
  }
}
