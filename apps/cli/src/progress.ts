// Progress on stderr: a bar redrawn in place on a terminal, plain lines (at most one every `everyMs`)
// otherwise, so logs of non-interactive runs stay readable.

export interface ProgressState {
  done: number;
  total: number;
  /** Free text after the bar, e.g. "step 3/9 NFE 12". */
  detail?: string;
}

export class ProgressBar {
  private readonly tty: boolean;
  private readonly start = performance.now();
  private lastPrint = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly label: string,
    private readonly everyMs = 5000,
  ) {
    this.tty = (stream as NodeJS.WriteStream).isTTY === true;
  }

  update(s: ProgressState): void {
    const now = performance.now();
    const elapsed = (now - this.start) / 1000;
    const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 0;
    const eta = frac > 0 ? (elapsed * (1 - frac)) / frac : Number.NaN;
    const text = `${this.label} ${s.done}/${s.total}${s.detail ? ` ${s.detail}` : ""} elapsed ${clock(elapsed)} ETA ${clock(eta)}`;
    if (this.tty) {
      const width = 24;
      const fill = Math.round(width * frac);
      this.stream.write(
        `\r\x1b[2K[${"=".repeat(fill)}${" ".repeat(width - fill)}] ${Math.floor(100 * frac)}% ${text}`,
      );
      this.drawn = true;
    } else if (now - this.lastPrint >= this.everyMs || s.done === s.total) {
      this.stream.write(`${text}\n`);
      this.lastPrint = now;
    }
  }

  /** Ends the redrawn line (on a terminal). */
  finish(): void {
    if (this.drawn) this.stream.write("\n");
    this.drawn = false;
  }
}

/** h:mm:ss or m:ss; "--:--" when unknown. */
export function clock(sec: number): string {
  if (!Number.isFinite(sec)) return "--:--";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
