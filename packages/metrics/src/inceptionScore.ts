// Inception Score: exp(E_x KL(p(y|x) || p(y))) per split, averaged over the splits.
//
// ADM's evaluator (openai/guided-diffusion evaluations/evaluator.py, compute_inception_score):
// p(y|x) = softmax(pool3 @ W) with W the TF graph's softmax/logits weights and NO bias (1008 classes),
// consecutive splits of 5000 samples (the last one may be shorter), score = mean over splits.
// improved-gan / torch-fidelity split N into 10 equal parts instead; for 50,000 samples both are
// the same 10 splits of 5000.

export interface InceptionScoreResult {
  /** Mean of the per-split scores (what ADM's evaluator prints). */
  mean: number;
  /** Population standard deviation of the per-split scores (np.std, as improved-gan). */
  std: number;
  scores: number[];
  /** Number of samples. */
  n: number;
  /** Samples per split (the last split may be shorter); for `splits`, floor(n / splits). */
  splitSize: number;
}

export interface InceptionScoreOptions {
  /** Consecutive splits of this many samples (ADM: 5000, the default). */
  splitSize?: number;
  /** Instead: this many splits of floor(i N / splits) .. floor((i+1) N / splits) (improved-gan). */
  splits?: number;
  /** The rows are already probabilities (rows summing to 1), not logits. */
  probabilities?: boolean;
}

/** Per-split running sums: sum_c P_c and sum p log p; enough to get the split's KL at the end. */
class Split {
  count = 0;
  plogp = 0;
  readonly colSum: Float64Array;
  constructor(classes: number) {
    this.colSum = new Float64Array(classes);
  }
  score(): number {
    const m = this.count;
    let cross = 0;
    for (let c = 0; c < this.colSum.length; c++) {
      const pc = this.colSum[c];
      if (pc > 0) cross += pc * Math.log(pc / m);
    }
    // mean_i sum_c p_ic (log p_ic - log pbar_c) = (sum p log p - sum_c P_c log(P_c / m)) / m
    return Math.exp((this.plogp - cross) / m);
  }
}

/**
 * Streaming Inception Score over consecutive splits of `splitSize` samples (ADM's convention);
 * memory is one 1008-vector per split, so 50,000 logits never need to be kept.
 */
export class InceptionScoreAccumulator {
  private readonly splitsDone: Split[] = [];
  private current: Split;
  private readonly probs: Float64Array;
  private n = 0;

  constructor(
    readonly classes = 1008,
    readonly options: { splitSize?: number; probabilities?: boolean } = {},
  ) {
    this.current = new Split(classes);
    this.probs = new Float64Array(classes);
    const s = options.splitSize ?? 5000;
    if (!Number.isInteger(s) || s < 1) throw new Error(`InceptionScoreAccumulator: bad split size ${s}`);
  }

  private get splitSize(): number {
    return this.options.splitSize ?? 5000;
  }

  /** Adds rows of logits (or probabilities), row-major [count, classes]. */
  add(rows: ArrayLike<number>, count = rows.length / this.classes): this {
    const c = this.classes;
    if (!Number.isInteger(count) || count * c > rows.length) {
      throw new Error(`InceptionScoreAccumulator.add: ${rows.length} values are not rows of ${c} classes`);
    }
    for (let r = 0; r < count; r++) {
      rowProbabilities(rows, r * c, c, this.options.probabilities === true, this.probs);
      const s = this.current;
      for (let k = 0; k < c; k++) {
        const p = this.probs[k];
        s.colSum[k] += p;
        if (p > 0) s.plogp += p * Math.log(p);
      }
      s.count++;
      this.n++;
      if (s.count === this.splitSize) {
        this.splitsDone.push(s);
        this.current = new Split(c);
      }
    }
    return this;
  }

  result(): InceptionScoreResult {
    const splits = this.current.count > 0 ? [...this.splitsDone, this.current] : this.splitsDone;
    if (splits.length === 0) throw new Error("Inception Score of no samples");
    return summarize(
      splits.map((s) => s.score()),
      this.n,
      this.splitSize,
    );
  }
}

function summarize(scores: number[], n: number, splitSize: number): InceptionScoreResult {
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const variance = scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length;
  return { mean, std: Math.sqrt(variance), scores, n, splitSize };
}

/** softmax of one row in float64 (or a copy of it when it already holds probabilities). */
function rowProbabilities(
  rows: ArrayLike<number>,
  offset: number,
  c: number,
  isProbability: boolean,
  out: Float64Array,
): void {
  if (isProbability) {
    for (let k = 0; k < c; k++) out[k] = rows[offset + k];
    return;
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < c; k++) max = Math.max(max, rows[offset + k]);
  if (!Number.isFinite(max)) throw new Error("Inception Score: non-finite logits");
  let z = 0;
  for (let k = 0; k < c; k++) {
    const e = Math.exp(rows[offset + k] - max);
    out[k] = e;
    z += e;
  }
  for (let k = 0; k < c; k++) out[k] /= z;
}

/** Inception Score of all rows at once (logits by default), row-major [n, classes]. */
export function inceptionScore(
  rows: ArrayLike<number>,
  classes = 1008,
  options: InceptionScoreOptions = {},
): InceptionScoreResult {
  const n = rows.length / classes;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`inceptionScore: ${rows.length} values are not rows of ${classes}`);
  if (options.splits !== undefined) {
    if (options.splitSize !== undefined)
      throw new Error("inceptionScore: give splits or splitSize, not both");
    const k = options.splits;
    if (!Number.isInteger(k) || k < 1 || k > n)
      throw new Error(`inceptionScore: bad number of splits ${k} for ${n} samples`);
    const scores: number[] = [];
    const probs = new Float64Array(classes);
    for (let i = 0; i < k; i++) {
      const split = new Split(classes);
      const lo = Math.floor((i * n) / k);
      const hi = Math.floor(((i + 1) * n) / k);
      for (let r = lo; r < hi; r++) {
        rowProbabilities(rows, r * classes, classes, options.probabilities === true, probs);
        for (let c = 0; c < classes; c++) {
          const p = probs[c];
          split.colSum[c] += p;
          if (p > 0) split.plogp += p * Math.log(p);
        }
        split.count++;
      }
      scores.push(split.score());
    }
    return summarize(scores, n, Math.floor(n / k));
  }
  return new InceptionScoreAccumulator(classes, {
    splitSize: options.splitSize,
    probabilities: options.probabilities,
  })
    .add(rows, n)
    .result();
}
