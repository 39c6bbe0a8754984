import { createNodeBackend } from "@flowturbo/backend-node";
import { describe, expect, test } from "vitest";
import {
  backendDistances,
  cpuDistances,
  InceptionScoreAccumulator,
  inceptionScore,
  manifoldRadii,
  precisionRecall,
} from "../src";
import { relMaxError, rng } from "./golden";

/** The improved-gan / ADM formula written out directly (float64), for comparison. */
function referenceIS(logits: Float64Array, classes: number, bounds: [number, number][]): number[] {
  const probs = new Float64Array(logits.length);
  const n = logits.length / classes;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    for (let c = 0; c < classes; c++) probs[i * classes + c] = Math.exp(row[c] - m) / z;
  }
  return bounds.map(([lo, hi]) => {
    const py = new Float64Array(classes);
    for (let i = lo; i < hi; i++)
      for (let c = 0; c < classes; c++) py[c] += probs[i * classes + c] / (hi - lo);
    let kl = 0;
    for (let i = lo; i < hi; i++)
      for (let c = 0; c < classes; c++) {
        const p = probs[i * classes + c];
        kl += p * (Math.log(p) - Math.log(py[c]));
      }
    return Math.exp(kl / (hi - lo));
  });
}

describe("Inception Score", () => {
  test("ADM splits (consecutive, fixed size, last one shorter) match the formula", () => {
    const r = rng(1);
    const classes = 17;
    const n = 230;
    const logits = Float64Array.from({ length: n * classes }, () => 6 * r() - 3);
    const got = inceptionScore(logits, classes, { splitSize: 50 });
    const ref = referenceIS(logits, classes, [
      [0, 50],
      [50, 100],
      [100, 150],
      [150, 200],
      [200, 230],
    ]);
    expect(got.scores.length).toBe(5);
    expect(relMaxError(got.scores, ref)).toBeLessThan(1e-12);
    expect(got.mean).toBeCloseTo(ref.reduce((a, b) => a + b) / 5, 12);
    expect(got.splitSize).toBe(50);
    // streaming in uneven chunks gives the same result
    const acc = new InceptionScoreAccumulator(classes, { splitSize: 50 });
    for (const [lo, hi] of [
      [0, 7],
      [7, 120],
      [120, 230],
    ])
      acc.add(logits.subarray(lo * classes, hi * classes));
    expect(acc.result().scores).toEqual(got.scores);
  });

  test("improved-gan splits (N/10 each) are the same as ADM's 5000-splits when N = 50,000", () => {
    const r = rng(2);
    const classes = 5;
    const n = 1000;
    const logits = Float64Array.from({ length: n * classes }, () => 4 * r());
    const a = inceptionScore(logits, classes, { splits: 10 });
    const b = inceptionScore(logits, classes, { splitSize: 100 });
    expect(a.scores).toEqual(b.scores);
    const c = inceptionScore(logits, classes, { splits: 3 }); // 333, 333, 334
    const ref = referenceIS(logits, classes, [
      [0, 333],
      [333, 666],
      [666, 1000],
    ]);
    expect(relMaxError(c.scores, ref)).toBeLessThan(1e-12);
  });

  test("limits: uniform predictions score 1, confident predictions over C equally used classes score C", () => {
    const classes = 8;
    expect(inceptionScore(new Float64Array(40 * classes), classes).mean).toBeCloseTo(1, 12);
    const probs = new Float64Array(40 * classes);
    for (let i = 0; i < 40; i++) probs[i * classes + (i % classes)] = 1;
    const r = inceptionScore(probs, classes, { probabilities: true });
    expect(r.mean).toBeCloseTo(classes, 10);
    expect(r.std).toBe(0);
    expect(() => inceptionScore(new Float64Array(7), 3)).toThrow(/not rows of 3/);
  });
});

/** Brute force: squared distances, k-th neighbour radius, <= comparisons (ADM's ManifoldEstimator). */
function bruteForcePR(ref: Float32Array, nr: number, sam: Float32Array, ns: number, d: number, k: number) {
  const dist = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let p = 0; p < d; p++) s += (a[i * d + p] - b[j * d + p]) ** 2;
    return s;
  };
  const radii = (x: Float32Array, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const ds = Array.from({ length: n }, (_, j) => dist(x, i, x, j)).sort((a, b) => a - b);
      return ds[k];
    });
  const rr = radii(ref, nr);
  const rs = radii(sam, ns);
  let p = 0;
  for (let j = 0; j < ns; j++) if (rr.some((r, i) => dist(ref, i, sam, j) <= r)) p++;
  let rc = 0;
  for (let i = 0; i < nr; i++) if (rs.some((r, j) => dist(ref, i, sam, j) <= r)) rc++;
  return { precision: p / ns, recall: rc / nr, rr };
}

describe("precision and recall (k = 3)", () => {
  const r = rng(7);
  const d = 6;
  const nr = 61;
  const ns = 47;
  const ref = Float32Array.from({ length: nr * d }, () => r());
  const sam = Float32Array.from({ length: ns * d }, () => r() * 1.3 - 0.1);

  test("matches brute force, with blocks smaller than the sets", async () => {
    const bf = bruteForcePR(ref, nr, sam, ns, d, 3);
    for (const blockSize of [4096, 16, 7]) {
      const got = await precisionRecall(ref, nr, sam, ns, d, { blockSize });
      expect(got.precision).toBeCloseTo(bf.precision, 12);
      expect(got.recall).toBeCloseTo(bf.recall, 12);
    }
    const radii = await manifoldRadii(ref, nr, d, { blockSize: 10 });
    expect(relMaxError(radii, bf.rr)).toBeLessThan(1e-5);
    expect(bf.precision).toBeGreaterThan(0.2);
    expect(bf.precision).toBeLessThan(1);
  });

  test("the radius is the k-th nearest OTHER point (self distance 0 counts as the first)", async () => {
    // points on a line at 0, 1, 3, 6, 10: the 3rd nearest other point of 0 is 6 (squared: 36), of 3 it is 0 or 6 (9)
    const x = Float32Array.from([0, 1, 3, 6, 10]);
    const radii = await manifoldRadii(x, 5, 1, { k: 3 });
    expect(Array.from(radii)).toEqual([36, 25, 9, 25, 81]);
    // identical sets: precision = recall = 1
    const same = await precisionRecall(x, 5, x, 5, 1);
    expect([same.precision, same.recall]).toEqual([1, 1]);
    await expect(manifoldRadii(x.subarray(0, 3), 3, 1, { k: 3 })).rejects.toThrow(/too few/);
  });

  test("distances through ORT CPU equal the CPU ones", async () => {
    const node = createNodeBackend({ worker: false });
    const bd = backendDistances(node, { block: 32 });
    const a = await bd.distances(ref.subarray(0, 20 * d), 20, sam.subarray(0, 32 * d), 32, d);
    const b = await cpuDistances(ref.subarray(0, 20 * d), 20, sam.subarray(0, 32 * d), 32, d);
    expect(relMaxError(a, b)).toBeLessThan(1e-5);
    const bf = bruteForcePR(ref, nr, sam, ns, d, 3);
    const got = await precisionRecall(ref, nr, sam, ns, d, { blockSize: 32, distances: bd.distances });
    expect([got.precision, got.recall]).toEqual([bf.precision, bf.recall]);
    await bd.release();
    await node.close();
  });
});
