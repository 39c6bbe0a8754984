import { describe, expect, test } from "vitest";
import {
  congruenceLower,
  matmul,
  pivotedCholesky,
  symmetricEigen,
  symmetricEigenvalues,
  traceSqrtProduct,
  transpose,
} from "../src";
import { rng } from "./golden";

/** A random orthogonal matrix: product of Householder reflections of random vectors. */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const r = rng(seed);
  let q: Float64Array = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let k = 0; k < Math.min(n, 6); k++) {
    const v = Float64Array.from({ length: n }, () => r() - 0.5);
    const norm2 = v.reduce((s, x) => s + x * x, 0);
    const h = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) h[i * n + j] = (i === j ? 1 : 0) - (2 * v[i] * v[j]) / norm2;
    q = matmul(q, h, n, n, n);
  }
  return q;
}

/** Q diag(values) Q^T. */
function withSpectrum(q: Float64Array, values: readonly number[]): Float64Array {
  const n = values.length;
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd[i * n + j] = q[i * n + j] * values[j];
  const a = matmul(qd, transpose(q, n, n), n, n, n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[j * n + i] = a[i * n + j];
  return a;
}

const sorted = (v: readonly number[]) => [...v].sort((a, b) => a - b);

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("symmetric eigensolver (Householder tridiagonalization + implicit QL)", () => {
  const spectra: [string, number[]][] = [
    ["distinct", Array.from({ length: 40 }, (_, i) => (i - 13) * 0.37)],
    ["repeated and zero", [3, 3, 3, 0, 0, -1, -1, 2, 2, 2, 5, 0.5]],
    ["clustered", Array.from({ length: 30 }, (_, i) => 1 + i * 1e-9)],
    ["wide range", Array.from({ length: 25 }, (_, i) => 10 ** (i / 3 - 4))],
    ["rank one", [7, ...Array(19).fill(0)]],
  ];
  test.each(spectra)("recovers a known spectrum: %s", (_name, values) => {
    const n = values.length;
    const a = withSpectrum(randomOrthogonal(n, n), values);
    const scale = Math.max(...values.map(Math.abs));
    const got = symmetricEigenvalues(a, n);
    expect(maxAbs(got, sorted(values)) / scale).toBeLessThan(1e-13);
    const { values: v2, vectors } = symmetricEigen(a, n, { vectors: true });
    expect(maxAbs(v2, got)).toBeLessThan(1e-13 * scale);
    // orthonormal rows and A = V^T diag V
    const vvT = matmul(vectors!, transpose(vectors!, n, n), n, n, n);
    for (let i = 0; i < n; i++) vvT[i * n + i] -= 1;
    expect(Math.max(...vvT.map(Math.abs))).toBeLessThan(1e-13);
    const back = withSpectrum(transpose(vectors!, n, n), Array.from(v2));
    expect(maxAbs(back, a) / scale).toBeLessThan(1e-13);
  });

  test("small and degenerate sizes", () => {
    expect(Array.from(symmetricEigenvalues([], 0))).toEqual([]);
    expect(Array.from(symmetricEigenvalues([4], 1))).toEqual([4]);
    const diag = symmetricEigen([3, 0, 0, 0, -2, 0, 0, 0, 1], 3, { vectors: true });
    expect(Array.from(diag.values)).toEqual([-2, 1, 3]);
    const two = symmetricEigenvalues([2, 1, 1, 2], 2);
    expect(two[0]).toBeCloseTo(1, 15);
    expect(two[1]).toBeCloseTo(3, 15);
    // the second-difference matrix: eigenvalues 2 - 2 cos(k pi / (n + 1))
    const n = 50;
    const t = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      t[i * n + i] = 2;
      if (i + 1 < n) t[i * n + i + 1] = t[(i + 1) * n + i] = -1;
    }
    const expected = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)));
    expect(maxAbs(symmetricEigenvalues(t, n), sorted(expected))).toBeLessThan(1e-13);
  });

  test("rejects non-square and non-finite input", () => {
    expect(() => symmetricEigenvalues([1, 2, 3], 2)).toThrow(/expected 2x2/);
    expect(() => symmetricEigenvalues([1, Number.NaN, Number.NaN, 1], 2)).toThrow(/non-finite/);
  });
});

describe("pivoted Cholesky", () => {
  test("factors a positive definite matrix exactly (P^T A P = L L^T)", () => {
    const n = 30;
    const a = withSpectrum(
      randomOrthogonal(n, 3),
      Array.from({ length: n }, (_, i) => 0.1 + i),
    );
    const { factor, perm, rank } = pivotedCholesky(a, n);
    expect(rank).toBe(n);
    const llt = matmul(factor, transpose(factor, n, rank), n, rank, n);
    let err = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) err = Math.max(err, Math.abs(llt[i * n + j] - a[perm[i] * n + perm[j]]));
    expect(err).toBeLessThan(1e-12);
  });

  test("stops at the numerical rank of a singular PSD matrix (a covariance of few samples)", () => {
    const n = 20;
    const a = withSpectrum(randomOrthogonal(n, 4), [
      ...Array.from({ length: 7 }, (_, i) => 1 + i),
      ...Array(13).fill(0),
    ]);
    const { factor, perm, rank } = pivotedCholesky(a, n);
    expect(rank).toBe(7);
    const llt = matmul(factor, transpose(factor, n, rank), n, rank, n);
    let err = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) err = Math.max(err, Math.abs(llt[i * n + j] - a[perm[i] * n + perm[j]]));
    expect(err).toBeLessThan(1e-12);
  });

  test("congruenceLower equals L^T S L computed densely", () => {
    const n = 23;
    const r = rng(9);
    const l = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k <= i; k++) l[i * n + k] = r() - 0.5;
    const s = withSpectrum(
      randomOrthogonal(n, 5),
      Array.from({ length: n }, () => r()),
    );
    const dense = matmul(transpose(l, n, n), matmul(s, l, n, n, n), n, n, n);
    expect(maxAbs(congruenceLower(l, s, n, n), dense)).toBeLessThan(1e-14);
  });
});

describe("tr sqrt(S1 S2)", () => {
  test("commuting matrices: sum of sqrt(d1 d2), both routes", () => {
    const n = 33;
    const q = randomOrthogonal(n, 7);
    const d1 = Array.from({ length: n }, (_, i) => 0.5 + i * 0.1);
    const d2 = Array.from({ length: n }, (_, i) => 2 / (1 + i));
    const expected = d1.reduce((s, x, i) => s + Math.sqrt(x * d2[i]), 0);
    for (const method of ["cholesky", "eigh"] as const) {
      const r = traceSqrtProduct(withSpectrum(q, d1), withSpectrum(q, d2), n, method);
      expect(Math.abs(r.value - expected) / expected).toBeLessThan(1e-13);
    }
  });

  test("singular S1: both routes agree and clip the null space", () => {
    const n = 16;
    const s1 = withSpectrum(randomOrthogonal(n, 8), [
      ...Array.from({ length: 5 }, (_, i) => i + 1),
      ...Array(11).fill(0),
    ]);
    const s2 = withSpectrum(
      randomOrthogonal(n, 9),
      Array.from({ length: n }, (_, i) => 0.2 + i),
    );
    const a = traceSqrtProduct(s1, s2, n, "cholesky");
    const b = traceSqrtProduct(s1, s2, n, "eigh");
    expect(a.rank).toBe(5);
    expect(Math.abs(a.value - b.value) / b.value).toBeLessThan(1e-6);
    // and the roles can be swapped: the spectrum of S1 S2 equals that of S2 S1
    const c = traceSqrtProduct(s2, s1, n, "cholesky");
    expect(Math.abs(c.value - b.value) / b.value).toBeLessThan(1e-6);
  });
});
