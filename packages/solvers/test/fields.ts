// Analytic flows under the linear path x_t = t*x1 + (1-t)*x0, x0 ~ N(0, 1), one independent 1-D
// problem per vector element, with exact solutions for the convergence tests.

/** Standard normal CDF with ~1e-16 absolute accuracy (all-positive series, no cancellation). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  if (x > 7) return z > 0 ? 1 : 0;
  // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
  let term = x;
  let sum = x;
  for (let n = 1; n < 500 && term > 1e-17 * sum; n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  const erf = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

export interface Component {
  w: number;
  mu: number;
  s: number;
}

/** Standard deviation of a component at time t: sqrt(t^2 s^2 + (1-t)^2). */
function sd(c: Component, t: number): number {
  return Math.sqrt(t * t * c.s * c.s + (1 - t) * (1 - t));
}

/** Velocity of one Gaussian component N(mu, s^2): mu + (t s^2 - (1-t)) / sd^2 * (x - t mu). */
function componentVelocity(c: Component, x: number, t: number): number {
  const v2 = t * t * c.s * c.s + (1 - t) * (1 - t);
  return c.mu + ((t * c.s * c.s - (1 - t)) / v2) * (x - t * c.mu);
}

/** Marginal velocity of a Gaussian mixture target: posterior-weighted component velocities. */
export function mixtureVelocity(comps: readonly Component[], x: number, t: number): number {
  if (comps.length === 1) return componentVelocity(comps[0], x, t);
  let num = 0;
  let den = 0;
  // Log-sum-exp style weights for stability.
  const logs = comps.map((c) => {
    const s = sd(c, t);
    const z = (x - t * c.mu) / s;
    return Math.log(c.w) - Math.log(s) - 0.5 * z * z;
  });
  const m = Math.max(...logs);
  comps.forEach((c, k) => {
    const r = Math.exp(logs[k] - m);
    num += r * componentVelocity(c, x, t);
    den += r;
  });
  return num / den;
}

/** CDF of the mixture's marginal at time t: sum_k w_k Phi((x - t mu_k) / sd_k(t)). */
function marginalCdf(comps: readonly Component[], x: number, t: number): number {
  return comps.reduce((a, c) => a + c.w * normalCdf((x - t * c.mu) / sd(c, t)), 0);
}

function marginalPdf(comps: readonly Component[], x: number, t: number): number {
  return comps.reduce((a, c) => a + (c.w * normalPdf((x - t * c.mu) / sd(c, t))) / sd(c, t), 0);
}

/**
 * Exact flow of x from time ta to tb: the monotone map with F_tb(y) = F_ta(x) (1-D flows
 * preserve order, so they transport quantiles).
 */
export function mixtureFlow(comps: readonly Component[], x: number, ta: number, tb: number): number {
  if (comps.length === 1) {
    const c = comps[0];
    return tb * c.mu + (sd(c, tb) / sd(c, ta)) * (x - ta * c.mu);
  }
  const target = marginalCdf(comps, x, ta);
  let lo = -50;
  let hi = 50;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(lo)); i++) {
    const mid = 0.5 * (lo + hi);
    if (marginalCdf(comps, mid, tb) < target) lo = mid;
    else hi = mid;
  }
  let y = 0.5 * (lo + hi);
  for (let i = 0; i < 3; i++) y -= (marginalCdf(comps, y, tb) - target) / marginalPdf(comps, y, tb);
  return y;
}

/** Exact x(1) from x(0) = x0. */
export function mixtureExact(comps: readonly Component[], x0: number): number {
  return mixtureFlow(comps, x0, 0, 1);
}

/** A VelocityField over a Float64Array of independent samples. */
export function fieldOf(comps: readonly Component[]) {
  return (x: Float64Array, t: number): Float64Array => {
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = mixtureVelocity(comps, x[i], t);
    return out;
  };
}

/** Evenly spread starting points in [-2.5, 2.5]. */
export function startPoints(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => -2.5 + (5 * i) / (n - 1));
}

export function exactOf(comps: readonly Component[], x0: Float64Array): Float64Array {
  return x0.map((v) => mixtureExact(comps, v));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Least-squares slope of log(err) against log(dt). */
export function logSlope(dts: readonly number[], errs: readonly number[]): number {
  const xs = dts.map(Math.log);
  const ys = errs.map(Math.log);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

export const GAUSSIAN: readonly Component[] = [{ w: 1, mu: 0.5, s: 0.3 }];
export const MIXTURE: readonly Component[] = [
  { w: 0.35, mu: -1.2, s: 0.6 },
  { w: 0.65, mu: 1.0, s: 0.7 },
];
