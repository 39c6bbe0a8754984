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
  /**
   * Optional: index of the first NaN or infinite element, -1 when all are finite. With it the
   * solvers check every model output by default (`checkFinite`).
   */
  firstNonFinite?(x: T): number;
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

/**
 * Batch operations for `classifierFreeGuidance`: guidance on an undoubled state of shape
 * `shape` = [B, C, ...] (the model may still see a doubled batch of 2B rows).
 */
export interface CfgOps<T> {
  /** cat[x, x] along the batch axis: 2B rows. */
  repeatBatch(x: T, shape: readonly number[]): T;
  /** The first and second halves (B rows each) of a doubled batch of 2B rows. */
  splitBatch(x: T, shape: readonly number[]): [T, T];
  /**
   * For every channel in `channels`, u + scale*(c - u) (exactly c when scale is 1); every other
   * channel takes c.
   */
  combineGuided(c: T, u: T, scale: number, channels: readonly number[], shape: readonly number[]): T;
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

function checkSingleShape(length: number, shape: readonly number[]): { c: number; inner: number } {
  if (shape.length < 2) throw new RangeError(`guidance shape must be [B, C, ...], got [${shape.join(", ")}]`);
  const total = shape.reduce((a, b) => a * b, 1);
  if (total !== length) {
    throw new RangeError(`guidance shape [${shape.join(", ")}] has ${total} elements, the vector ${length}`);
  }
  return { c: shape[1], inner: total / (shape[0] * shape[1]) };
}

function checkChannel(ch: number, nc: number): void {
  if (!Number.isInteger(ch) || ch < 0 || ch >= nc) {
    throw new RangeError(`guided channel ${ch} out of range for ${nc} channels`);
  }
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

/** Everything the solvers can ask of a state type; the built-in typed-array ops implement it all. */
export type AllOps<T> = Required<VectorOps<T>> & GuidanceOps<T> & CfgOps<T>;

/** Vector and guidance ops for a plain typed-array state (row-major, batch first). */
export function typedArrayOps<A extends FloatArray>(ctor: FloatArrayConstructor<A>): AllOps<A> {
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

    firstNonFinite(x) {
      // v * 0 is (+-)0 for every finite v and NaN for NaN and the infinities: one branch-free pass,
      // and a second one only to locate a bad element.
      const n = x.length;
      let s = 0;
      let i = 0;
      for (; i + 4 <= n; i += 4) s += x[i] * 0 + x[i + 1] * 0 + x[i + 2] * 0 + x[i + 3] * 0;
      for (; i < n; i++) s += x[i] * 0;
      if (s === 0) return -1;
      for (let j = 0; j < n; j++) if (x[j] * 0 !== 0) return j;
      return -1;
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
        checkChannel(ch, nc);
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

    repeatBatch(x, shape) {
      checkSingleShape(x.length, shape);
      const out = new ctor(2 * x.length);
      out.set(x, 0);
      out.set(x, x.length);
      return out;
    },

    splitBatch(x, shape) {
      const n = shape.reduce((a, b) => a * b, 1);
      if (x.length !== 2 * n) {
        throw new RangeError(
          `a doubled batch of [${shape.join(", ")}] has ${2 * n} elements, got ${x.length}`,
        );
      }
      return [x.slice(0, n) as A, x.slice(n) as A];
    },

    combineGuided(c, u, scale, channels, shape) {
      const { c: nc, inner } = checkSingleShape(c.length, shape);
      checkLengths([c, u]);
      const res = new ctor(c.length);
      res.set(c);
      if (scale === 1) return res;
      const rows = shape[0];
      for (const ch of channels) {
        checkChannel(ch, nc);
        for (let b = 0; b < rows; b++) {
          const base = (b * nc + ch) * inner;
          // The same expression as `guide`, so both guidance forms give the same bits.
          for (let i = base; i < base + inner; i++) res[i] = u[i] + scale * (c[i] - u[i]);
        }
      }
      return res;
    },
  };
}

/** Built-in ops for Float32Array states (the default). */
export const float32Ops: AllOps<Float32Array> = typedArrayOps(Float32Array);
/** Built-in ops for Float64Array states (handy for accuracy studies). */
export const float64Ops: AllOps<Float64Array> = typedArrayOps(Float64Array);

/** The built-in ops matching a typed-array value, or an error asking for explicit ops. */
export function defaultOpsFor<T>(x: T, what = "ops"): AllOps<T> {
  if (x instanceof Float32Array) return float32Ops as unknown as AllOps<T>;
  if (x instanceof Float64Array) return float64Ops as unknown as AllOps<T>;
  throw new TypeError(`state is not a Float32Array or Float64Array: pass \`${what}\` for this array type`);
}
