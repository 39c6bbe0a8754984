/**
 * The few vector operations the solvers need. States are treated as immutable values: every
 * operation returns a new vector. Implement this for device tensors to run the solvers on them.
 */
export interface VectorOps<T> {
  /** A new vector sum_i coeffs[i] * xs[i] (all xs the same shape; at least one term). */
  lincomb(coeffs: readonly number[], xs: readonly T[]): T;
  /**
   * sqrt(mean_i (x_i / (atol + rtol * max(|a_i|, |b_i|)))^2), with |b_i| left out when `b` is
   * undefined. Only dopri5 uses it (error ratio and initial step selection).
   */
  scaledRms(x: T, a: T, b: T | undefined, atol: number, rtol: number): number;
}

/**
 * Batch operations for classifier-free guidance on a doubled batch laid out as `shape` =
 * [2B, C, ...] (conditional half first, unconditional half second).
 */
export interface GuidanceOps<T> {
  /** cat[x[:B], x[:B]]: the first half copied over both halves. */
  duplicateFirstHalf(x: T, shape: readonly number[]): T;
  /**
   * For every channel in `channels`, both halves get u + scale*(c - u) (c: first half, u: second
   * half; exactly c when scale is 1); every other channel keeps each half's own value.
   */
  guide(out: T, scale: number, channels: readonly number[], shape: readonly number[]): T;
}

type FloatArray = Float32Array | Float64Array;
type FloatArrayConstructor<A extends FloatArray> = { new (length: number): A; readonly name: string };

function checkLengths(xs: readonly FloatArray[]): number {
  if (xs.length === 0) throw new RangeError("lincomb needs at least one vector");
  const n = xs[0].length;
  for (const x of xs) {
    if (x.length !== n) throw new RangeError(`vector length mismatch: ${x.length} vs ${n}`);
  }
  return n;
}

function checkShape(length: number, shape: readonly number[]): { half: number; c: number; inner: number } {
  if (shape.length < 2)
    throw new RangeError(`guidance shape must be [2B, C, ...], got [${shape.join(", ")}]`);
  const total = shape.reduce((a, b) => a * b, 1);
  if (total !== length) {
    throw new RangeError(`guidance shape [${shape.join(", ")}] has ${total} elements, the vector ${length}`);
  }
  if (shape[0] % 2 !== 0) throw new RangeError(`guidance needs an even (doubled) batch, got ${shape[0]}`);
  return { half: shape[0] / 2, c: shape[1], inner: total / (shape[0] * shape[1]) };
}

/** out = sum_j c[j] * xs[j] for 1..4 terms (xs[0] may be `out` itself). */
function accumulate(out: FloatArray, c: readonly number[], xs: readonly FloatArray[], n: number): void {
  switch (xs.length) {
    case 1: {
      const [a] = c;
      const [x] = xs;
      for (let i = 0; i < n; i++) out[i] = a * x[i];
      return;
    }
    case 2: {
      const [a, b] = c;
      const [x, y] = xs;
      for (let i = 0; i < n; i++) out[i] = a * x[i] + b * y[i];
      return;
    }
    case 3: {
      const [a, b, d] = c;
      const [x, y, z] = xs;
      for (let i = 0; i < n; i++) out[i] = a * x[i] + b * y[i] + d * z[i];
      return;
    }
    default: {
      const [a, b, d, e] = c;
      const [x, y, z, w] = xs;
      for (let i = 0; i < n; i++) out[i] = a * x[i] + b * y[i] + d * z[i] + e * w[i];
    }
  }
}

/** Vector and guidance ops for a plain typed-array state (row-major, batch first). */
export function typedArrayOps<A extends FloatArray>(
  ctor: FloatArrayConstructor<A>,
): VectorOps<A> & GuidanceOps<A> {
  return {
    lincomb(coeffs, xs) {
      const n = checkLengths(xs);
      if (coeffs.length !== xs.length) throw new RangeError("lincomb: one coefficient per vector");
      const out = new ctor(n);
      // Fixed-arity kernels are much faster than a generic inner loop; longer sums (RK4's update,
      // dopri5's stages) accumulate into `out` in passes of up to 4 terms.
      let j = Math.min(4, xs.length);
      accumulate(out, coeffs.slice(0, j), xs.slice(0, j), n);
      while (j < xs.length) {
        const k = Math.min(3, xs.length - j);
        accumulate(out, [1, ...coeffs.slice(j, j + k)], [out, ...xs.slice(j, j + k)], n);
        j += k;
      }
      return out;
    },

    scaledRms(x, a, b, atol, rtol) {
      const n = checkLengths(b ? [x, a, b] : [x, a]);
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const ref = b ? Math.max(Math.abs(a[i]), Math.abs(b[i])) : Math.abs(a[i]);
        const r = x[i] / (atol + rtol * ref);
        sum += r * r;
      }
      return Math.sqrt(sum / n);
    },

    duplicateFirstHalf(x, shape) {
      checkShape(x.length, shape);
      const h = x.length / 2;
      const out = new ctor(x.length);
      const first = x.subarray(0, h);
      out.set(first, 0);
      out.set(first, h);
      return out;
    },

    guide(out, scale, channels, shape) {
      const { half, c: nc, inner } = checkShape(out.length, shape);
      const res = new ctor(out.length);
      res.set(out);
      const offset = half * nc * inner; // start of the unconditional half
      for (const ch of channels) {
        if (!Number.isInteger(ch) || ch < 0 || ch >= nc) {
          throw new RangeError(`guided channel ${ch} out of range for ${nc} channels`);
        }
        for (let b = 0; b < half; b++) {
          const base = (b * nc + ch) * inner;
          for (let i = base; i < base + inner; i++) {
            const cond = out[i];
            const g = scale === 1 ? cond : out[i + offset] + scale * (cond - out[i + offset]);
            res[i] = g;
            res[i + offset] = g;
          }
        }
      }
      return res;
    },
  };
}

/** Built-in ops for Float32Array states (the default). */
export const float32Ops: VectorOps<Float32Array> & GuidanceOps<Float32Array> = typedArrayOps(Float32Array);
/** Built-in ops for Float64Array states (handy for accuracy studies). */
export const float64Ops: VectorOps<Float64Array> & GuidanceOps<Float64Array> = typedArrayOps(Float64Array);

/** The built-in ops matching a typed-array value, or an error asking for explicit ops. */
export function defaultOpsFor<T>(x: T, what = "ops"): VectorOps<T> & GuidanceOps<T> {
  if (x instanceof Float32Array) return float32Ops as unknown as VectorOps<T> & GuidanceOps<T>;
  if (x instanceof Float64Array) return float64Ops as unknown as VectorOps<T> & GuidanceOps<T>;
  throw new TypeError(`state is not a Float32Array or Float64Array: pass \`${what}\` for this array type`);
}
