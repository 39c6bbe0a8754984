// Dense float64 linear algebra for the Frechet distance: symmetric eigenvalues (Householder
// tridiagonalization + implicit QL, after EISPACK tred2/tql2 as in JAMA), a pivoted Cholesky
// factorization for positive semi-definite matrices, and the products they need.
// Matrices are row-major Float64Arrays of n*n values.

/** Eigen-decomposition of a symmetric matrix. */
export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /**
   * Eigenvectors as ROWS of a row-major n*n matrix (row j is the unit eigenvector of values[j]), so
   * A = V^T diag(values) V with V the returned matrix. Only present when requested.
   */
  vectors?: Float64Array;
}

function checkSquare(a: ArrayLike<number>, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: bad dimension ${n}`);
  if (a.length !== n * n) throw new Error(`${what}: expected ${n}x${n} = ${n * n} values, got ${a.length}`);
}

/** sqrt(a^2 + b^2) without destructive underflow or overflow (Math.hypot is slow in V8). */
function hypot(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  if (x > y) {
    const r = y / x;
    return x * Math.sqrt(1 + r * r);
  }
  if (y === 0) return 0;
  const r = x / y;
  return y * Math.sqrt(1 + r * r);
}

/**
 * Householder reduction of a symmetric matrix to tridiagonal form (EISPACK tred2 as in JAMA).
 * `w` holds the matrix on entry and is overwritten. It is used transposed with respect to JAMA's V
 * (w[j*n+k] = V[k][j]) so that every inner loop runs over contiguous memory.
 * Returns the diagonal `d` and subdiagonal `e` (e[0] = 0, e[i] couples i-1 and i); with
 * `vectors`, `w` ends up holding the accumulated orthogonal transformation (row j = column j of Q).
 */
function tridiagonalize(w: Float64Array, n: number, vectors: boolean): { d: Float64Array; e: Float64Array } {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { d, e };
  for (let j = 0; j < n; j++) d[j] = w[j * n + (n - 1)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + (i - 1)];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        if (vectors) w[i * n + j] = f; // V[j][i]
        const row = j * n;
        g = e[j] + w[row + j] * f;
        for (let k = j + 1; k < i; k++) {
          const v = w[row + k];
          g += v * d[k];
          e[k] += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const row = j * n;
        for (let k = j; k < i; k++) w[row + k] -= f * e[k] + g * d[k];
        d[j] = w[row + (i - 1)];
        w[row + i] = 0; // V[i][j]
      }
    }
    d[i] = h;
  }
  if (!vectors) {
    // The diagonal of the tridiagonal matrix is left on the diagonal of w.
    for (let j = 0; j < n; j++) d[j] = w[j * n + j];
    e[0] = 0;
    return { d, e };
  }
  // Accumulate transformations.
  for (let i = 0; i < n - 1; i++) {
    w[i * n + (n - 1)] = w[i * n + i]; // V[n-1][i] = V[i][i]
    w[i * n + i] = 1;
    const h = d[i + 1];
    const col = (i + 1) * n; // V[k][i+1] = w[col + k]
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[col + k] / h;
      for (let j = 0; j <= i; j++) {
        const row = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[col + k] * w[row + k];
        for (let k = 0; k <= i; k++) w[row + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[col + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + (n - 1)];
    w[j * n + (n - 1)] = 0;
  }
  w[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
  return { d, e };
}

/**
 * Implicit QL iterations on a symmetric tridiagonal matrix (EISPACK tql2 as in JAMA). With `w`
 * (from `tridiagonalize`), the rotations are accumulated into its rows. Sorts ascending.
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, w: Float64Array | undefined, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100)
          throw new Error(`symmetric eigensolver: no convergence for eigenvalue ${l} of ${n}`);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (w) {
            // rows i and i+1 of w are columns i and i+1 of JAMA's V
            const a = i * n;
            const b = a + n;
            for (let k = 0; k < n; k++) {
              const wb = w[b + k];
              const wa = w[a + k];
              w[b + k] = s * wa + c * wb;
              w[a + k] = c * wa - s * wb;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  // Selection sort (n swaps of rows at most), ascending.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      if (w) {
        const a = i * n;
        const b = k * n;
        for (let j = 0; j < n; j++) {
          const t = w[a + j];
          w[a + j] = w[b + j];
          w[b + j] = t;
        }
      }
    }
  }
}

/**
 * Eigenvalues (ascending) and optionally eigenvectors of a symmetric matrix. Only the lower
 * triangle's mirror image is assumed, i.e. the matrix must be symmetric; it is not modified.
 * Cost: about 4/3 n^3 multiply-adds without vectors, ~9 n^3 with.
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  options: { vectors?: boolean } = {},
): SymmetricEigen {
  checkSquare(a, n, "symmetricEigen");
  const w = Float64Array.from(a);
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i])) throw new Error("symmetricEigen: the matrix has non-finite entries");
  }
  const vectors = options.vectors === true;
  const { d, e } = tridiagonalize(w, n, vectors);
  tridiagonalQL(d, e, vectors ? w : undefined, n);
  return vectors ? { values: d, vectors: w } : { values: d };
}

/** Eigenvalues (ascending) of a symmetric matrix. */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  return symmetricEigen(a, n).values;
}

/** A lower-trapezoidal factor of a positive semi-definite matrix: P^T A P = L L^T. */
export interface PivotedCholesky {
  /** Row-major n*rank factor L (L[i][k] = 0 for k > i). */
  factor: Float64Array;
  /** perm[i] = the row of A that is row i of P^T A P. */
  perm: Int32Array;
  rank: number;
}

/**
 * Cholesky factorization with complete (diagonal) pivoting, as LAPACK dpstrf: stops when the
 * largest remaining pivot is <= tol (default n * 2^-52 * max diag(A)), so a singular positive
 * semi-definite matrix (e.g. a covariance of fewer samples than dimensions) gets a factor of its
 * numerical rank instead of failing. Throws for a matrix with a negative diagonal element.
 */
export function pivotedCholesky(
  a: ArrayLike<number>,
  n: number,
  options: { tol?: number } = {},
): PivotedCholesky {
  checkSquare(a, n, "pivotedCholesky");
  const w = Float64Array.from(a);
  const perm = new Int32Array(n);
  const diag = new Float64Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    perm[i] = i;
    diag[i] = w[i * n + i];
    if (!Number.isFinite(diag[i])) throw new Error("pivotedCholesky: the matrix has non-finite entries");
    maxDiag = Math.max(maxDiag, diag[i]);
  }
  const tol = options.tol ?? n * 2 ** -52 * maxDiag;
  let rank = n;
  for (let j = 0; j < n; j++) {
    let p = j;
    for (let i = j + 1; i < n; i++) if (diag[i] > diag[p]) p = i;
    if (!(diag[p] > tol)) {
      rank = j;
      break;
    }
    if (p !== j) {
      // symmetric swap of rows and columns j and p (L values of earlier columns travel with the rows)
      const rj = j * n;
      const rp = p * n;
      for (let k = 0; k < n; k++) {
        const t = w[rj + k];
        w[rj + k] = w[rp + k];
        w[rp + k] = t;
      }
      for (let k = 0; k < n; k++) {
        const t = w[k * n + j];
        w[k * n + j] = w[k * n + p];
        w[k * n + p] = t;
      }
      let t = diag[j];
      diag[j] = diag[p];
      diag[p] = t;
      t = perm[j];
      perm[j] = perm[p];
      perm[p] = t;
    }
    const ljj = Math.sqrt(diag[j]);
    const rj = j * n;
    w[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = w[ri + j];
      for (let k = 0; k < j; k++) s -= w[ri + k] * w[rj + k];
      const lij = s / ljj;
      w[ri + j] = lij;
      diag[i] -= lij * lij;
    }
  }
  const factor = new Float64Array(n * rank);
  for (let i = 0; i < n; i++) {
    const m = Math.min(i + 1, rank);
    for (let k = 0; k < m; k++) factor[i * rank + k] = w[i * n + k];
  }
  return { factor, perm, rank };
}

/**
 * C = A B for row-major A (m x k) and B (k x n). Four rows of C at a time so that every row of B
 * read from memory serves four rows.
 */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  if (a.length !== m * k || b.length !== k * n) throw new Error("matmul: shape mismatch");
  const c = new Float64Array(m * n);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const c0 = i * n;
    const c1 = c0 + n;
    const c2 = c1 + n;
    const c3 = c2 + n;
    for (let p = 0; p < k; p++) {
      const a0 = a[i * k + p];
      const a1 = a[(i + 1) * k + p];
      const a2 = a[(i + 2) * k + p];
      const a3 = a[(i + 3) * k + p];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) {
        const v = b[bp + j];
        c[c0 + j] += a0 * v;
        c[c1 + j] += a1 * v;
        c[c2 + j] += a2 * v;
        c[c3 + j] += a3 * v;
      }
    }
  }
  for (; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      if (av === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
    }
  }
  return c;
}

/**
 * M = L^T S L for a lower-trapezoidal L (n x r, L[i][k] = 0 for k > i) and a symmetric S (n x n),
 * with the triangular structure exploited (about 0.8 n^3 multiply-adds instead of 2 n^3) and 2x2
 * register-blocked dot products over contiguous rows.
 */
export function congruenceLower(l: Float64Array, s: Float64Array, n: number, r: number): Float64Array {
  if (l.length !== n * r || s.length !== n * n) throw new Error("congruenceLower: shape mismatch");
  const lt = transpose(l, n, r); // r x n, row j nonzero from column j
  // TT = (S L)^T = L^T S (S symmetric): TT[j][i] = sum_{p >= j} LT[j][p] S[i][p]
  const tt = new Float64Array(r * n);
  blockedDots(lt, r, s, n, n, tt, (j) => j, false);
  // M[j][l] = sum_{p >= max(j,l)} LT[j][p] TT[l][p]; only l >= j computed, then mirrored
  const m = new Float64Array(r * r);
  blockedDots(lt, r, tt, r, n, m, (j) => j, true);
  for (let j = 0; j < r; j++) for (let q = j + 1; q < r; q++) m[q * r + j] = m[j * r + q];
  return m;
}

/**
 * out[a][b] = sum_{p >= start(a)} A[a][p] B[b][p] for A (ra x k) and B (rb x k) row-major, where
 * A[a][p] = 0 for p < start(a) (start must not decrease). `upper` computes only b >= a (rounded
 * down to even blocks; entries below the diagonal may also be written).
 */
function blockedDots(
  a: Float64Array,
  ra: number,
  b: Float64Array,
  rb: number,
  k: number,
  out: Float64Array,
  start: (row: number) => number,
  upper: boolean,
): void {
  // Tiles: a chunk of PB columns of a block of JB rows of B stays in cache while all rows of A pass.
  const PB = 256;
  const JB = 64;
  out.fill(0);
  for (let pc = 0; pc < k; pc += PB) {
    const pe = Math.min(pc + PB, k);
    for (let jb = 0; jb < rb; jb += JB) {
      const je = Math.min(jb + JB, rb);
      const iEnd = upper ? Math.min(ra, je) : ra;
      for (let i = 0; i < iEnd; i += 2) {
        const p0 = Math.max(pc, start(i)); // A[i+1] starts at or after A[i]'s start
        if (p0 >= pe) continue;
        const two = i + 1 < ra;
        const a0 = i * k;
        const a1 = a0 + k;
        const jStart = upper ? Math.max(jb, i) : jb;
        for (let j = jStart; j < je; j += 2) {
          const twoB = j + 1 < rb;
          const b0 = j * k;
          const b1 = twoB ? b0 + k : b0;
          let s00 = 0;
          let s01 = 0;
          let s10 = 0;
          let s11 = 0;
          if (two) {
            for (let p = p0; p < pe; p++) {
              const x0 = a[a0 + p];
              const x1 = a[a1 + p];
              const y0 = b[b0 + p];
              const y1 = b[b1 + p];
              s00 += x0 * y0;
              s01 += x0 * y1;
              s10 += x1 * y0;
              s11 += x1 * y1;
            }
          } else {
            for (let p = p0; p < pe; p++) {
              const x0 = a[a0 + p];
              s00 += x0 * b[b0 + p];
              s01 += x0 * b[b1 + p];
            }
          }
          out[i * rb + j] += s00;
          if (twoB) out[i * rb + j + 1] += s01;
          if (two) {
            out[(i + 1) * rb + j] += s10;
            if (twoB) out[(i + 1) * rb + j + 1] += s11;
          }
        }
      }
    }
  }
}

/** Transpose of a row-major m x n matrix. */
export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  const B = 32;
  for (let i0 = 0; i0 < m; i0 += B) {
    for (let j0 = 0; j0 < n; j0 += B) {
      const i1 = Math.min(i0 + B, m);
      const j1 = Math.min(j0 + B, n);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) t[j * m + i] = a[i * n + j];
    }
  }
  return t;
}

/** (M + M^T) / 2 in place: removes the rounding asymmetry of a computed congruence. */
export function symmetrize(m: Float64Array, n: number): Float64Array {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (m[i * n + j] + m[j * n + i]);
      m[i * n + j] = v;
      m[j * n + i] = v;
    }
  }
  return m;
}

/** Trace of a row-major n x n matrix. */
export function trace(a: ArrayLike<number>, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

/** How tr sqrt(S1 S2) is computed; both are float64 and give the same value to rounding. */
export type TraceSqrtMethod = "cholesky" | "eigh";

export interface TraceSqrtResult {
  value: number;
  /** Eigenvalues (ascending) of the symmetric matrix congruent to S1^(1/2) S2 S1^(1/2), before clipping. */
  eigenvalues: Float64Array;
  method: TraceSqrtMethod;
  /** Numerical rank of S1 used by the factorization. */
  rank: number;
}

/**
 * tr sqrt(S1 S2) for symmetric positive semi-definite S1, S2 as the sum of square roots of the
 * eigenvalues of a symmetric matrix with the spectrum of S1^(1/2) S2 S1^(1/2) (negatives clipped to 0):
 * - "eigh": S1 = V^T diag(l) V (tred2 + tql2 with vectors), R = diag(sqrt(max(l, 0))) V, M = R S2 R^T,
 *   which is S1^(1/2) S2 S1^(1/2) up to the orthogonal similarity by V (the route of docs/FLOWTURBO.md section 7).
 * - "cholesky" (default): P^T S1 P = L L^T by pivoted Cholesky, M = L^T (P^T S2 P) L (rank x rank);
 *   L = P^T S1^(1/2) U for an orthogonal U, so M is again orthogonally similar to it (up to the
 *   zero eigenvalues of a singular S1). About 5x faster at 2048-d.
 */
export function traceSqrtProduct(
  s1: ArrayLike<number>,
  s2: ArrayLike<number>,
  n: number,
  method: TraceSqrtMethod = "cholesky",
): TraceSqrtResult {
  checkSquare(s1, n, "traceSqrtProduct (sigma1)");
  checkSquare(s2, n, "traceSqrtProduct (sigma2)");
  let m: Float64Array;
  let r: number;
  if (method === "eigh") {
    const { values, vectors } = symmetricEigen(s1, n, { vectors: true });
    const rm = vectors!; // rows: eigenvectors
    for (let j = 0; j < n; j++) {
      const sq = Math.sqrt(Math.max(values[j], 0));
      for (let k = 0; k < n; k++) rm[j * n + k] *= sq;
    }
    // U = R S2 (rows: U[l][i] = R[l] . S2[i], S2 symmetric), M = R U^T, upper half then mirrored
    const u = new Float64Array(n * n);
    blockedDots(rm, n, Float64Array.from(s2), n, n, u, () => 0, false);
    m = new Float64Array(n * n);
    blockedDots(rm, n, u, n, n, m, () => 0, true);
    for (let j = 0; j < n; j++) for (let q = j + 1; q < n; q++) m[q * n + j] = m[j * n + q];
    r = n;
  } else {
    const { factor, perm, rank } = pivotedCholesky(s1, n);
    r = rank;
    const p2 = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      const src = perm[i] * n;
      for (let j = 0; j < n; j++) p2[i * n + j] = s2[src + perm[j]];
    }
    m = congruenceLower(factor, p2, n, r);
  }
  symmetrize(m, r);
  const eigenvalues = symmetricEigenvalues(m, r);
  let value = 0;
  for (let i = 0; i < eigenvalues.length; i++) value += Math.sqrt(Math.max(eigenvalues[i], 0));
  return { value, eigenvalues, method, rank: r };
}
