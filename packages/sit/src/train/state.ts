// Training state (trainable parameters, AdamW moments, EMA, step count) and its checkpoint file: one
// safetensors file with tensors param/<name>, adam_m/<name>, adam_v/<name>, ema/<name> and the step,
// seed and configuration in __metadata__.
import { openSafetensors, type SourceLike, safetensorsChunks, Tensor } from "@flowturbo/tensor";

export const TRAIN_CHECKPOINT_FORMAT = "flowturbo-train/1";

export interface TrainState {
  /** Completed optimizer steps (the next step is step + 1 in Adam's 1-based count). */
  step: number;
  params: Map<string, Tensor>;
  m: Map<string, Tensor>;
  v: Map<string, Tensor>;
  /** Exponential moving average of the parameters (when the step graph keeps one). */
  ema?: Map<string, Tensor>;
}

const PREFIX = { param: "param/", m: "adam_m/", v: "adam_v/", ema: "ema/" } as const;

/** Step 0: parameters from `weights`, zero moments, EMA = the parameters. */
export function initialTrainState(
  trainable: readonly string[],
  weights: ReadonlyMap<string, Tensor>,
  opts: { ema?: boolean } = {},
): TrainState {
  const params = new Map<string, Tensor>();
  const m = new Map<string, Tensor>();
  const v = new Map<string, Tensor>();
  const ema = opts.ema ? new Map<string, Tensor>() : undefined;
  for (const name of trainable) {
    const w = weights.get(name);
    if (!w) throw new Error(`initial weights have no trainable parameter '${name}'`);
    const f = w.dtype === "float32" ? w : w.astype("float32");
    params.set(name, f);
    m.set(name, Tensor.zeros("float32", f.shape));
    v.set(name, Tensor.zeros("float32", f.shape));
    ema?.set(name, f);
  }
  return { step: 0, params, m, v, ema };
}

/** The checkpoint file's bytes as chunks (safetensors); `metadata` values must be strings. */
export function trainCheckpointChunks(
  state: TrainState,
  metadata: Readonly<Record<string, string>> = {},
): Generator<Uint8Array> {
  const tensors = new Map<string, Tensor>();
  for (const [n, t] of state.params) tensors.set(PREFIX.param + n, t);
  for (const [n, t] of state.m) tensors.set(PREFIX.m + n, t);
  for (const [n, t] of state.v) tensors.set(PREFIX.v + n, t);
  for (const [n, t] of state.ema ?? []) tensors.set(PREFIX.ema + n, t);
  return safetensorsChunks(tensors, {
    metadata: { ...metadata, format: TRAIN_CHECKPOINT_FORMAT, step: String(state.step) },
  });
}

export interface TrainCheckpoint {
  state: TrainState;
  metadata: Record<string, string>;
}

/** Reads a checkpoint written by `trainCheckpointChunks`. */
export async function readTrainCheckpoint(source: SourceLike): Promise<TrainCheckpoint> {
  const file = await openSafetensors(source);
  const metadata = { ...(file.metadata ?? {}) };
  if (metadata.format !== TRAIN_CHECKPOINT_FORMAT)
    throw new Error(
      `${file.name}: not a training checkpoint (format '${metadata.format ?? "none"}', expected '${TRAIN_CHECKPOINT_FORMAT}')`,
    );
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${file.name}: bad step '${metadata.step}'`);
  const state: TrainState = { step, params: new Map(), m: new Map(), v: new Map() };
  for (const name of file.names) {
    const t = await file.tensor(name);
    if (name.startsWith(PREFIX.param)) state.params.set(name.slice(PREFIX.param.length), t);
    else if (name.startsWith(PREFIX.m)) state.m.set(name.slice(PREFIX.m.length), t);
    else if (name.startsWith(PREFIX.v)) state.v.set(name.slice(PREFIX.v.length), t);
    else if (name.startsWith(PREFIX.ema)) {
      state.ema ??= new Map();
      state.ema.set(name.slice(PREFIX.ema.length), t);
    } else throw new Error(`${file.name}: unexpected tensor '${name}' in a training checkpoint`);
  }
  for (const n of state.params.keys())
    if (!state.m.has(n) || !state.v.has(n)) throw new Error(`${file.name}: no Adam moments for '${n}'`);
  return { state, metadata };
}

/** Checks that a resumed state holds exactly the step graph's trainable parameters, same shapes. */
export function checkStateMatches(
  state: TrainState,
  trainable: readonly string[],
  weights: ReadonlyMap<string, Tensor>,
  what = "checkpoint",
): void {
  const want = new Set(trainable);
  for (const n of trainable) {
    const t = state.params.get(n);
    if (!t) throw new Error(`${what}: no parameter '${n}' (a different model?)`);
    const w = weights.get(n);
    if (w && t.shape.join(",") !== w.shape.join(","))
      throw new Error(`${what}: '${n}' has shape [${t.shape}], the model expects [${w.shape}]`);
  }
  for (const n of state.params.keys())
    if (!want.has(n)) throw new Error(`${what}: unexpected parameter '${n}'`);
}

/**
 * The model's state dict: trained parameters (or their EMA) under `prefix` with the prefix removed, plus
 * the frozen parameters of the same prefix (pos_embed) from `frozen`.
 */
export function trainedWeights(
  state: TrainState,
  frozen: ReadonlyMap<string, Tensor>,
  opts: { prefix?: string; ema?: boolean } = {},
): Map<string, Tensor> {
  const pre = opts.prefix ? `${opts.prefix}.` : "";
  const src = opts.ema ? state.ema : state.params;
  if (!src) throw new Error("this training state keeps no EMA");
  const out = new Map<string, Tensor>();
  for (const [n, t] of frozen) if (n.startsWith(pre) && !src.has(n)) out.set(n.slice(pre.length), t);
  for (const [n, t] of src) if (n.startsWith(pre)) out.set(n.slice(pre.length), t);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
