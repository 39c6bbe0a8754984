// Pure parts of `flowturbo bench`: statistics, acceleration ratios and the error-vs-latency plot.
import { type PlotSeries, plotSvg } from "./svgPlot";

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

/**
 * Error vs latency on log-log axes as a standalone SVG (plotSvg): the baselines (Heun runs, joined in order
 * of latency) and the FlowTurbo plans, one labelled point per method.
 */
export function errorLatencySvg(rows: readonly BenchRow[], title: string): string {
  const points = (kind: BenchRow["kind"]) =>
    rows
      .filter((r) => r.kind === kind)
      .map((r) => ({ x: Math.max(r.msPerImage, 1e-6), y: Math.max(r.error, 1e-12), label: r.method }));
  const series: PlotSeries[] = [
    { name: "Heun baselines", color: "#1f77b4", points: points("baseline"), line: true },
    { name: "FlowTurbo plans", color: "#d62728", points: points("flowturbo"), marker: "diamond" },
  ];
  return plotSvg(
    series.filter((s) => s.points.length > 0),
    {
      title,
      xLabel: "latency, ms/image",
      yLabel: "relative error vs reference",
      logX: true,
      logY: true,
    },
  );
}
