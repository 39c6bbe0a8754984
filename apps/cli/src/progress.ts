// Progress on stderr: a bar redrawn in place on a terminal, plain lines (at most one every `everyMs`)
// otherwise, so logs of non-interactive runs stay readable. SamplingProgress turns the pipeline's
// per-step reports into the bar's position across batches, and counts model calls per sample.
import type { SampleProgress } from "@flowturbo/pipeline";
import type { NfeCounts } from "@flowturbo/solvers";

export interface ProgressState {
  done: number;
  total: number;
  /** Fraction of the work done, when finer than done/total (e.g. within a batch); default done/total. */
  fraction?: number;
  /** Free text after the count, e.g. "batch 1/3 step 3 NFE 12". */
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
    const frac = Math.min(1, Math.max(0, s.fraction ?? (s.total > 0 ? s.done / s.total : 0)));
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

const nfeText = (n: NfeCounts) => `NFE ${n.base}${n.refiner ? `+${n.refiner}R` : ""}`;

/**
 * A sampling run on a ProgressBar: pipeline requests (each with its first sample's place in the run)
 * report steps; the bar moves with each step (a batch's share from its time t), says which batch and
 * step, and `nfe` gives the model calls per sample (each batch's calls, averaged over the samples).
 */
export class SamplingProgress {
  private calls = { base: 0, refiner: 0 };
  private counted = 0;

  constructor(
    private readonly bar: ProgressBar,
    /** Samples in the run. */
    private readonly total: number,
    /** Samples per batch. */
    private readonly batch: number,
  ) {}

  /** The onProgress hook of a request whose samples start at `offset` in the run. */
  hook(offset: number): (p: SampleProgress) => void {
    let doneBefore = 0;
    let nfeBefore: NfeCounts = { base: 0, refiner: 0 };
    const batches = Math.ceil(this.total / this.batch);
    return (p) => {
      // the pipeline's compile event (sessions being opened) comes before any step: the bar waits for step 1
      if (p.phase === "compile") return;
      const done = offset + p.done;
      const kept = Math.min(this.batch, this.total - done);
      const batch = `batch ${Math.min(batches, Math.floor(done / this.batch) + 1)}/${batches}`;
      if (p.stage === "sampling" && p.done > doneBefore) {
        // a batch finished: its samples went through its model calls
        const n = p.done - doneBefore;
        this.calls.base += n * (p.nfe.base - nfeBefore.base);
        this.calls.refiner += n * (p.nfe.refiner - nfeBefore.refiner);
        this.counted += n;
        doneBefore = p.done;
        nfeBefore = p.nfe;
        this.bar.update({ done, total: this.total, detail: done === this.total ? "done" : undefined });
        return;
      }
      const within = p.stage === "decoding" ? 1 : Math.min(1, Math.max(0, p.t));
      const step = p.stage === "decoding" ? "decoding" : `step ${p.step}`;
      const nfe = { base: p.nfe.base - nfeBefore.base, refiner: p.nfe.refiner - nfeBefore.refiner };
      this.bar.update({
        done,
        total: this.total,
        fraction: (done + kept * within) / this.total,
        detail: `${batch} ${step} ${nfeText(nfe)}`,
      });
    };
  }

  /** Model calls per sample (base and refiner), averaged over the samples finished so far. */
  get nfe(): NfeCounts {
    const per = (x: number) => (this.counted ? Math.round((10 * x) / this.counted) / 10 : 0);
    return { base: per(this.calls.base), refiner: per(this.calls.refiner) };
  }

  finish(): void {
    this.bar.finish();
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
