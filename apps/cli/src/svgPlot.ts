// A small standalone SVG chart: series of points (optionally joined, optionally labelled) on linear or
// log10 axes with ticks, grid lines, axis titles and a legend. Used for the speed/quality figures
// (FD-emoji or error vs ms/image).

export interface PlotPoint {
  x: number;
  y: number;
  /** Text drawn next to the point. */
  label?: string;
}

export interface PlotSeries {
  name: string;
  color: string;
  points: PlotPoint[];
  /** Join the points (sorted by x) with a line. */
  line?: boolean;
  /** Marker: circle (default), square or diamond. */
  marker?: "circle" | "square" | "diamond";
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Tick values covering [lo, hi]: 1-2-5 steps per decade on log axes, "nice" steps on linear ones. */
export function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    return out.length >= 2 ? out : [lo, hi];
  }
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/** The chart as a standalone SVG document. */
export function plotSvg(series: readonly PlotSeries[], o: PlotOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 460;
  const m = { l: 70, r: 190, t: 40, b: 56 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) throw new Error("plotSvg: no points");
  const range = (vals: number[], log: boolean): [number, number] => {
    let lo = Math.min(...vals);
    let hi = Math.max(...vals);
    if (log) {
      const [a, b] = [Math.log10(lo), Math.log10(hi)];
      const pad = (b - a || 1) * 0.06;
      return [10 ** (a - pad), 10 ** (b + pad)];
    }
    const pad = (hi - lo || Math.abs(hi) || 1) * 0.06;
    lo -= pad;
    hi += pad;
    return [lo, hi];
  };
  const [x0, x1] = range(
    all.map((p) => p.x),
    o.logX ?? false,
  );
  const [y0, y1] = range(
    all.map((p) => p.y),
    o.logY ?? false,
  );
  const tx = (v: number) => (o.logX ? Math.log10(v) : v);
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  const px = (v: number) => m.l + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="22" text-anchor="middle" font-size="14">${esc(o.title)}</text>`,
  );
  for (const v of ticks(x0, x1, o.logX ?? false)) {
    const x = px(v).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#e6e6e6"/>`);
    parts.push(`<line x1="${x}" y1="${H - m.b}" x2="${x}" y2="${H - m.b + 5}" stroke="black"/>`);
    parts.push(`<text x="${x}" y="${H - m.b + 18}" text-anchor="middle" font-size="11">${fmt(v)}</text>`);
  }
  for (const v of ticks(y0, y1, o.logY ?? false)) {
    const y = py(v).toFixed(1);
    parts.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#e6e6e6"/>`);
    parts.push(`<line x1="${m.l - 5}" y1="${y}" x2="${m.l}" y2="${y}" stroke="black"/>`);
    parts.push(
      `<text x="${m.l - 8}" y="${(Number(y) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmt(v)}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="black"/>`,
  );
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" text-anchor="middle" font-size="12">${esc(o.xLabel)}${o.logX ? " (log scale)" : ""}</text>`,
  );
  parts.push(
    `<text x="18" y="${(m.t + H - m.b) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 18 ${(m.t + H - m.b) / 2})">${esc(o.yLabel)}${o.logY ? " (log scale)" : ""}</text>`,
  );
  const marker = (s: PlotSeries, x: number, y: number) => {
    const c = s.color;
    if (s.marker === "square")
      return `<rect x="${(x - 4).toFixed(1)}" y="${(y - 4).toFixed(1)}" width="8" height="8" fill="${c}"/>`;
    if (s.marker === "diamond")
      return `<path d="M ${x.toFixed(1)} ${(y - 5).toFixed(1)} l 5 5 l -5 5 l -5 -5 z" fill="${c}"/>`;
    return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4" fill="${c}"/>`;
  };
  series.forEach((s, k) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (s.line && pts.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")}"/>`,
      );
    for (const p of pts) {
      parts.push(marker(s, px(p.x), py(p.y)));
      if (p.label)
        parts.push(
          `<text x="${(px(p.x) + 6).toFixed(1)}" y="${(py(p.y) - 6).toFixed(1)}" font-size="10" fill="${s.color}">${esc(p.label)}</text>`,
        );
    }
    // legend entry
    const ly = m.t + 10 + 20 * k;
    const lx = W - m.r + 16;
    if (s.line)
      parts.push(
        `<line x1="${lx - 6}" y1="${ly}" x2="${lx + 10}" y2="${ly}" stroke="${s.color}" stroke-width="1.5"/>`,
      );
    parts.push(marker(s, lx + 2, ly));
    parts.push(`<text x="${lx + 16}" y="${ly + 4}" font-size="12">${esc(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n${parts.join("\n")}\n</svg>\n`;
}
