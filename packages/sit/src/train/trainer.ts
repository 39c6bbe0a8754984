/// <reference types="node" />
// The generic training loop over a training-step graph (appendTrainingStep): parameters, AdamW moments
// and EMA stay host tensors between steps and go in and out of one session run per step; atomic
// checkpoints (temp file + rename) every N steps, at the end and when `signal` aborts; resuming from a
// checkpoint continues bit-exactly because the data feeds are a pure function of the step index.
import { readFile, writeFile } from "node:fs/promises";
import type { Backend, RunValue, SessionOptions } from "@flowturbo/core";
import { toHost } from "@flowturbo/core";
import { type Graph, STEP_IO, Tensor } from "@flowturbo/tensor";
import { fileSource, writeFileStreaming } from "@flowturbo/tensor/node";
import {
  checkStateMatches,
  initialTrainState,
  readTrainCheckpoint,
  type TrainCheckpoint,
  type TrainState,
  trainCheckpointChunks,
} from "./state";

export interface TrainProgress {
  /** Completed steps (including those before a resume). */
  step: number;
  steps: number;
  loss: number;
  /** Exponential moving average of the loss (smoothing 0.98 with bias correction). */
  smoothLoss: number;
  gradNorm: number;
  /** Steps per second and samples per second over the recent steps of this run. */
  stepsPerSec: number;
  samplesPerSec: number;
  /** Seconds left at the current rate. */
  etaSec: number;
  /** Seconds since this run started. */
  elapsedSec: number;
}

export interface TrainOptions {
  backend: Backend;
  /** A training-step graph (baseTrainingStep / refinerTrainingStep) and its trainable parameter names. */
  step: { graph: Graph; trainable: readonly string[] };
  /** Values of every graph parameter: the initial trainable ones and the frozen ones (teacher, pos_embed). */
  weights: ReadonlyMap<string, Tensor>;
  /** The step's data inputs for 0-based step index s (a pure function of s for exact resumes). */
  data: (step: number) => Record<string, Tensor> | Promise<Record<string, Tensor>>;
  /**
   * Learning rate of 0-based step s, for step graphs built with `lrInput` (a schedule); a pure function
   * of s, so resumes continue the schedule exactly.
   */
  lr?: (step: number) => number;
  /** Train until this many steps are complete in total. */
  steps: number;
  /** Continue from a state or a checkpoint file written by this trainer. */
  resume?: TrainState | string;
  /** Where checkpoints go (written atomically). */
  checkpointPath?: string;
  /** Checkpoint every N completed steps (0 or absent: only at the end and on abort). */
  checkpointEvery?: number;
  /** Extra checkpoint metadata (strings): seed, configuration, recipe. */
  metadata?: Record<string, string>;
  /** JSON-lines log, one line per step: {step, loss, grad_norm, time}. A resume drops lines past its step. */
  logPath?: string;
  /** Batch size for samples/s (default: first dimension of the first data input). */
  batchSize?: number;
  onProgress?: (p: TrainProgress) => void;
  /** Stop after the current step, write a checkpoint and return `interrupted: true`. */
  signal?: AbortSignal;
  sessionOptions?: SessionOptions;
}

export interface TrainResult {
  state: TrainState;
  /** True when `signal` stopped the run before `steps`. */
  interrupted: boolean;
  /** Step the run started from (0, or the resumed checkpoint's step). */
  startStep: number;
  /** Last step's loss (NaN if no step ran). */
  loss: number;
  smoothLoss: number;
  elapsedSec: number;
  /** Steps per second over this run's steps (NaN if none ran). */
  stepsPerSec: number;
  /** Path of the last checkpoint written, if any. */
  checkpoint?: string;
}

/** Reads a training checkpoint file. */
export async function readTrainCheckpointFile(path: string): Promise<TrainCheckpoint> {
  const src = await fileSource(path);
  try {
    return await readTrainCheckpoint(src);
  } finally {
    await src.close();
  }
}

/** Writes a training checkpoint atomically (temporary file, then rename). */
export async function writeTrainCheckpointFile(
  path: string,
  state: TrainState,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileStreaming(path, trainCheckpointChunks(state, metadata));
}

async function resetLog(path: string, keepUpTo: number): Promise<void> {
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch {
    text = "";
  }
  const kept = text
    .split("\n")
    .filter((line) => {
      if (!line.trim() || keepUpTo === 0) return false;
      try {
        return (JSON.parse(line) as { step?: number }).step! <= keepUpTo;
      } catch {
        return false;
      }
    })
    .map((l) => `${l}\n`)
    .join("");
  await writeFileStreaming(path, [new TextEncoder().encode(kept)]);
}

function scalar(v: RunValue | undefined, name: string): number {
  if (!v || !(v instanceof Tensor)) throw new Error(`training step returned no host tensor '${name}'`);
  return Number(v.data[0]);
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { graph, trainable } = o.step;
  const inputNames = new Set(graph.inputs.map((i) => i.value.name!));
  const useEma = trainable.length > 0 && inputNames.has(STEP_IO.ema(trainable[0]));
  const lrInput = inputNames.has(STEP_IO.lr);
  if (lrInput && !o.lr) throw new Error("the training step takes its learning rate as input: pass `lr`");
  let state: TrainState;
  if (o.resume === undefined) state = initialTrainState(trainable, o.weights, { ema: useEma });
  else if (typeof o.resume === "string") state = (await readTrainCheckpointFile(o.resume)).state;
  else state = o.resume;
  checkStateMatches(state, trainable, o.weights, typeof o.resume === "string" ? o.resume : "resumed state");
  if (o.steps < state.step)
    throw new RangeError(
      `${typeof o.resume === "string" ? o.resume : "the resumed state"} is at step ${state.step}, past the ${o.steps} steps asked for: ask for more steps to continue the run`,
    );
  if (useEma && !state.ema) state.ema = new Map(state.params);
  const startStep = state.step;
  // the checkpoint on disk (for messages): the resumed file, then each one written
  let lastCheckpoint = typeof o.resume === "string" ? o.resume : undefined;
  let lastCheckpointStep = startStep;
  const metadata = { ...(o.metadata ?? {}), steps: String(o.steps) };

  const save = async (): Promise<string | undefined> => {
    if (!o.checkpointPath) return undefined;
    await writeTrainCheckpointFile(o.checkpointPath, state, metadata);
    lastCheckpoint = o.checkpointPath;
    lastCheckpointStep = state.step;
    return o.checkpointPath;
  };

  if (o.logPath) await resetLog(o.logPath, startStep);
  const trainableSet = new Set(trainable);
  const session = await o.backend.load(
    { graph, weights: o.weights, paramsAsInputs: (n) => trainableSet.has(n) },
    o.sessionOptions,
  );
  const t0 = performance.now();
  let loss = Number.NaN;
  let smooth = 0;
  let smoothWeight = 0;
  let avgStepSec = 0;
  let avgWeight = 0;
  let checkpoint: string | undefined;
  let interrupted = false;
  const logLines: string[] = [];
  const flushLog = async () => {
    if (!o.logPath || logLines.length === 0) return;
    await writeFile(o.logPath, logLines.join(""), { flag: "a" });
    logLines.length = 0;
  };
  try {
    let next = state.step < o.steps ? await o.data(state.step) : undefined;
    let last = performance.now();
    while (state.step < o.steps) {
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      const s = state.step;
      const feeds: Record<string, Tensor> = { ...next! };
      const batch = o.batchSize ?? feeds[Object.keys(feeds)[0]]?.shape[0] ?? 1;
      feeds[STEP_IO.step] = new Tensor("float32", [], Float32Array.of(s + 1));
      if (lrInput) feeds[STEP_IO.lr] = new Tensor("float32", [], Float32Array.of(o.lr!(s)));
      for (const n of trainable) {
        feeds[n] = state.params.get(n)!;
        feeds[STEP_IO.m(n)] = state.m.get(n)!;
        feeds[STEP_IO.v(n)] = state.v.get(n)!;
        if (useEma) feeds[STEP_IO.ema(n)] = state.ema!.get(n)!;
      }
      const running = session.run(feeds);
      // prepare the next batch on this thread while the session computes in its worker; its errors
      // surface after this step's results are kept
      const prefetch = s + 1 < o.steps ? Promise.resolve().then(() => o.data(s + 1)) : undefined;
      prefetch?.catch(() => undefined);
      const out = await running;
      loss = scalar(out.loss, "loss");
      const gradNorm = scalar(out[STEP_IO.gradNorm], STEP_IO.gradNorm);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        throw new Error(
          `loss ${loss} / gradient norm ${gradNorm} at step ${s + 1} is not finite; ${lastCheckpoint ? `the last checkpoint is ${lastCheckpoint} (step ${lastCheckpointStep})` : "no checkpoint was written"}`,
        );
      }
      const params = new Map<string, Tensor>();
      const m = new Map<string, Tensor>();
      const v = new Map<string, Tensor>();
      const ema = useEma ? new Map<string, Tensor>() : undefined;
      for (const n of trainable) {
        params.set(n, await toHost(out[STEP_IO.updated(n)]));
        m.set(n, await toHost(out[STEP_IO.mNext(n)]));
        v.set(n, await toHost(out[STEP_IO.vNext(n)]));
        if (ema) ema.set(n, await toHost(out[STEP_IO.emaNext(n)]));
      }
      state = { step: s + 1, params, m, v, ema };

      const now = performance.now();
      const dtSec = (now - last) / 1000;
      last = now;
      avgStepSec = 0.9 * avgStepSec + 0.1 * dtSec;
      avgWeight = 0.9 * avgWeight + 0.1;
      smooth = 0.98 * smooth + 0.02 * loss;
      smoothWeight = 0.98 * smoothWeight + 0.02;
      const stepSec = avgStepSec / avgWeight;
      const elapsedSec = (now - t0) / 1000;
      if (o.logPath) {
        logLines.push(
          `${JSON.stringify({ step: state.step, loss, grad_norm: gradNorm, time: Number(elapsedSec.toFixed(3)) })}\n`,
        );
      }
      o.onProgress?.({
        step: state.step,
        steps: o.steps,
        loss,
        smoothLoss: smooth / smoothWeight,
        gradNorm,
        stepsPerSec: 1 / stepSec,
        samplesPerSec: batch / stepSec,
        etaSec: (o.steps - state.step) * stepSec,
        elapsedSec,
      });
      if (o.checkpointEvery && state.step % o.checkpointEvery === 0 && state.step < o.steps) {
        await flushLog();
        checkpoint = await save();
      } else if (logLines.length >= 50) await flushLog();
      next = await prefetch;
    }
    await flushLog();
    if (state.step > startStep || interrupted) checkpoint = (await save()) ?? checkpoint;
  } finally {
    await flushLog().catch(() => undefined);
    await session.release();
  }
  const elapsedSec = (performance.now() - t0) / 1000;
  const ran = state.step - startStep;
  return {
    state,
    interrupted,
    startStep,
    loss,
    smoothLoss: smoothWeight ? smooth / smoothWeight : Number.NaN,
    elapsedSec,
    stepsPerSec: ran > 0 ? ran / elapsedSec : Number.NaN,
    checkpoint,
  };
}
