// Pure parts of `flowturbo bench`: statistics, acceleration ratios and the error-vs-latency plot.

export interface BenchRow {
  /** "H1P5R3" for FlowTurbo plans, "heun:8" for baselines. */
  method: string;
  kind: "flowturbo" | "baseline";
  batch: number;
  /** Median over repeats, milliseconds per image (warm). */
  msPerImage: number;
  nfe: { base: number; refiner: number };
  /** Relative L2 error of the final samples against the reference solve from the same noise. */
  error: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function relativeL2(x: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (x[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

export interface Acceleration {
  plan: string;
  /** The cheapest Heun baseline at least as accurate as the plan (lower or equal error). */
  heun: string | null;
  /** heun latency / plan latency (> 1: FlowTurbo is faster at equal or better quality). */
  ratio: number | null;
}

/** For every FlowTurbo plan, the acceleration against the Heun run of matching quality (paper, Table 3a). */
export function accelerationRatios(rows: readonly BenchRow[]): Acceleration[] {
  const heuns = rows.filter((r) => r.method.startsWith("heun:"));
  return rows
    .filter((r) => r.kind === "flowturbo")
    .map((plan) => {
      const match = heuns.filter((h) => h.error <= plan.error).sort((a, b) => a.msPerImage - b.msPerImage)[0];
      return {
        plan: plan.method,
        heun: match?.method ?? null,
        ratio: match ? match.msPerImage / plan.msPerImage : null,
      };
    });
}

/** A log-log scatter of error vs latency, one labelled point per method, as a standalone SVG. */
export function errorLatencySvg(rows: readonly BenchRow[], title: string): string {
  const W = 640;
  const H = 420;
  const m = { l: 70, r: 20, t: 40, b: 50 };
  const xs = rows.map((r) => Math.log10(Math.max(r.msPerImage, 1e-6)));
  const ys = rows.map((r) => Math.log10(Math.max(r.error, 1e-12)));
  const span = (v: number[]) => {
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    return hi - lo < 1e-9 ? [lo - 0.5, hi + 0.5] : [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)];
  };
  const [x0, x1] = span(xs);
  const [y0, y1] = span(ys);
  const px = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const points = rows
    .map((r, i) => {
      const color = r.kind === "flowturbo" ? "#d62728" : "#1f77b4";
      return (
        `<circle cx="${px(xs[i]).toFixed(1)}" cy="${py(ys[i]).toFixed(1)}" r="4" fill="${color}"/>` +
        `<text x="${(px(xs[i]) + 6).toFixed(1)}" y="${(py(ys[i]) - 6).toFixed(1)}" font-size="11">${esc(r.method)}</text>`
      );
    })
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>
<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>
<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="12">latency, ms/image (log10: ${x0.toFixed(2)} .. ${x1.toFixed(2)})</text>
<text x="16" y="${H / 2}" font-size="12" transform="rotate(-90 16 ${H / 2})" text-anchor="middle">relative error vs reference (log10: ${y0.toFixed(2)} .. ${y1.toFixed(2)})</text>
${points}
</svg>
`;
}
