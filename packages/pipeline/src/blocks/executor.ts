// Sample-aware (block) compilation, the executor side: runs a FlowTurbo plan block by block with one
// session per block kind (H, P, R), each a static graph that holds the block's network calls, the
// guidance and the Heun update (./graphs.ts). The state x, the cache and the refiner's incoming v stay
// where the backend keeps them between blocks (keepOnDevice: the worker's memory on ORT CPU, GPU
// buffers on WebGPU); only the final x is downloaded. Every copy to the host is counted in
// `TransferCounts`, so "no per-step copy" is measured, not assumed.
import { type DeviceTensor, isDeviceTensor, type RunValue } from "@flowturbo/core";
import {
  type AbortSignalLike,
  type BlockKind,
  checkGrid,
  type GuidedChannels,
  type NfeCounts,
  type Plan,
  resolveChannels,
  type SolverAbortSignal,
  throwIfAborted,
  uniformGrid,
} from "@flowturbo/solvers";
import { Tensor } from "@flowturbo/tensor";
import { BLOCK_IO, type BlockSessions, blockKindsFor, emptyTransferCounts, type TransferCounts } from "./io";

export interface BlockPlanOptions {
  plan: Plan;
  /** Shape of the state, [N, C, H, W] (N = 2 * blocks.batch under guidance). */
  shape: readonly number[];
  /** Class label of each of the N rows (under guidance cat[labels, null]). */
  labels: ArrayLike<number>;
  /** Guidance scale (and interval, as the solvers' `guidance.interval`); required iff the graphs are guided. */
  guidance?: { scale: number; interval?: readonly [number, number] };
  /** Time grid with plan.steps + 1 points (default t_k = k/N). */
  grid?: readonly number[];
  signal?: SolverAbortSignal;
  /** After every block; `x` (the state at t, all N rows) only with `stepStates`. */
  onStep?: (info: BlockStepInfo) => void | Promise<void>;
  /**
   * Download the state after every block and hand it to onStep (live previews); the last block's download
   * is the result. Counted in `transfers.stepDownloads` (the final one in `downloads`). Without it the
   * state stays on the device until the end (no host copy between blocks).
   */
  stepStates?: boolean;
  /**
   * Called before the final state is downloaded (without stepStates): on a GPU the blocks run
   * asynchronously and this download waits for all of them.
   */
  beforeReadback?: (info: { step: number; t: number; nfe: NfeCounts }) => void;
  /** Counters to add to (default: fresh ones, returned in the result). */
  transfers?: TransferCounts;
}

export interface BlockStepInfo {
  step: number;
  t: number;
  nfe: NfeCounts;
  block: BlockKind;
  /** The state after this block (stepStates only). */
  x?: Float32Array;
}

export interface BlockPlanResult {
  /** Final state, all N rows (under guidance the samples are the first half). */
  x: Float32Array;
  nfe: NfeCounts;
  steps: number;
  transfers: TransferCounts;
}

const scalar = (v: number) => new Tensor("float32", [], Float32Array.of(v));

function dispose(values: readonly (RunValue | undefined)[], keep: readonly (RunValue | undefined)[]): void {
  for (const v of new Set(values)) if (v && isDeviceTensor(v) && !keep.includes(v)) v.dispose();
}

function abortError(signal: AbortSignalLike): unknown {
  return signal.reason ?? Object.assign(new Error("aborted"), { name: "AbortError" });
}

/**
 * A device tensor's host copy. An abort rejects at once: a GPU download waits for all the work queued
 * before it, which can take long; the abandoned download finishes on its own.
 */
async function download(x: DeviceTensor, signal: SolverAbortSignal | undefined): Promise<Tensor> {
  const s = signal as (AbortSignalLike & Partial<EventTarget>) | undefined;
  const pending = x.download();
  if (!s?.addEventListener) return pending;
  pending.catch(() => undefined); // abandoned after an abort: its failure is nobody's
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(s));
    if (s.aborted) onAbort();
    else s.addEventListener?.("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([pending, aborted]);
  } finally {
    s.removeEventListener?.("abort", onAbort);
  }
}

const asFloat32 = (t: Tensor): Float32Array =>
  t.dtype === "float32" ? (t.data as Float32Array) : t.toFloat32();

/**
 * Runs a FlowTurbo plan with block sessions, with the semantics of sampleFlowTurbo (docs/FLOWTURBO.md
 * section 4): H = fresh Heun, P = Heun with the cached slope (H's graph when there is no cache yet),
 * R = refiner block with incoming v; cache = d' after every block, v = d' after H/P and d after R.
 */
export async function runBlockPlan(
  blocks: BlockSessions,
  x0: Float32Array,
  opts: BlockPlanOptions,
): Promise<BlockPlanResult> {
  const plan = opts.plan;
  const grid = opts.grid ?? uniformGrid(plan.steps);
  checkGrid(grid);
  if (grid.length !== plan.steps + 1)
    throw new RangeError(`grid has ${grid.length} points, plan needs ${plan.steps + 1}`);
  const shape = [...opts.shape];
  const rows = shape[0];
  const guided = blocks.guidance !== undefined;
  if (guided !== (opts.guidance !== undefined)) {
    throw new Error(
      guided
        ? "these block graphs were compiled with guidance: pass a guidance scale (or compile them for cfg 1)"
        : "these block graphs were compiled without guidance: compile guided graphs for cfg != 1",
    );
  }
  if (rows !== (guided ? 2 : 1) * blocks.batch) {
    throw new Error(
      `block graphs are compiled for batch ${blocks.batch}${guided ? ` (${2 * blocks.batch} rows under guidance)` : ""}, the state has ${rows} rows`,
    );
  }
  if (x0.length !== shape.reduce((a, b) => a * b, 1))
    throw new Error(`x0 has ${x0.length} values, expected shape [${shape.join(", ")}]`);
  if (opts.labels.length !== rows) throw new Error(`${opts.labels.length} labels for ${rows} rows`);
  const heunAsP = !blocks.H && blocks.P !== undefined;
  for (const k of blockKindsFor(plan, { heunAsP })) {
    if (!blocks[k]) throw new Error(`plan needs a compiled ${k} block session (blocks.${k})`);
  }
  const transfers = opts.transfers ?? emptyTransferCounts();
  const nfe: NfeCounts = { base: 0, refiner: 0 };
  const y = Tensor.from(
    "int64",
    [rows],
    Array.from(opts.labels, (l) => BigInt(l)),
  );
  const scaleAt = (t: number) => {
    const g = opts.guidance!;
    return !g.interval || (t >= g.interval[0] && t <= g.interval[1]) ? g.scale : 1;
  };
  const weights = blocks.weights ?? {};
  const locations = new Set(transfers.locations);

  /** Runs a block session (its weights fed), counting the run and where its outputs are. */
  const run = async (graph: BlockKind, feeds: Record<string, RunValue>) => {
    const session = blocks[graph]!;
    for (const name of session.inputNames)
      if (name in weights && !(name in feeds)) feeds[name] = weights[name];
    const outputs = BLOCK_IO.outputs[graph];
    const out = await session.run(feeds, outputs);
    transfers.runs++;
    for (const name of outputs) {
      const o = out[name];
      if (!o) throw new Error(`block ${graph}: session returned no '${name}'`);
      if (isDeviceTensor(o)) locations.add(o.location);
      else {
        transfers.hostOutputs++;
        locations.add("host");
      }
    }
    return out;
  };

  /** The zero cache of the first P run of an H block run as two (made once). */
  let zero: Tensor | undefined;

  let x: RunValue = new Tensor("float32", shape, x0);
  transfers.stateUploads++;
  /** The host copy of the latest state (stepStates), then the result. */
  let state: Float32Array | undefined;
  let cache: RunValue | undefined;
  let v: RunValue | undefined;
  try {
    for (let k = 0; k < plan.steps; k++) {
      throwIfAborted(opts.signal as AbortSignalLike | undefined);
      const kind = plan.blocks[k];
      const [t0, t1] = [grid[k], grid[k + 1]];
      const feeds: Record<string, RunValue> = { x, t0: scalar(t0), t1: scalar(t1), y };
      if (guided) {
        feeds.s0 = scalar(scaleAt(t0));
        feeds.s1 = scalar(scaleAt(t1));
      }
      let graph: BlockKind;
      /** A velocity of this block's own (H as two P runs) to release after the block. */
      let fresh: RunValue | undefined;
      if (kind === "R") {
        if (!v) throw new Error("refiner block without an incoming velocity");
        feeds.v = v;
        graph = "R";
        nfe.refiner += 2;
      } else if (kind === "P" && cache) {
        feeds.cache = cache;
        graph = "P";
        nfe.base += 1;
      } else if (blocks.H) {
        graph = "H";
        nfe.base += 2;
      } else {
        // H as two P runs: with t1 = t0 (dt = 0) and a zero cache, P's cache_next is d = F(x, t0)
        zero ??= new Tensor("float32", shape, new Float32Array(x0.length));
        const first = await run("P", {
          ...feeds,
          t1: feeds.t0,
          cache: zero,
          ...(guided ? { s1: feeds.s0 } : {}),
        });
        dispose([first.x_next], []);
        fresh = feeds.cache = first.cache_next;
        graph = "P";
        nfe.base += 2;
      }
      const out = await run(graph, feeds);
      const old = [x, cache, v, fresh];
      x = out.x_next;
      cache = out.cache_next;
      v = graph === "R" ? out.v_next : out.cache_next;
      dispose(old, [x, cache, v]);
      const info: BlockStepInfo = { step: k + 1, t: t1, nfe: { ...nfe }, block: kind };
      if (opts.stepStates) {
        const last = k === plan.steps - 1;
        if (isDeviceTensor(x)) {
          const host = await download(x, opts.signal);
          if (last) transfers.downloads++;
          else transfers.stepDownloads++;
          state = asFloat32(host);
        } else state = asFloat32(x);
        info.x = state;
      }
      await opts.onStep?.(info);
    }
    if (!state) {
      if (isDeviceTensor(x)) {
        opts.beforeReadback?.({ step: plan.steps, t: grid[plan.steps], nfe: { ...nfe } });
        throwIfAborted(opts.signal as AbortSignalLike | undefined);
        state = asFloat32(await download(x, opts.signal));
        transfers.downloads++;
      } else state = asFloat32(x);
    }
    return {
      x: state,
      nfe,
      steps: plan.steps,
      transfers: Object.assign(transfers, { locations: [...locations] }),
    };
  } finally {
    dispose([x, cache, v], []);
  }
}

/** Runs every block session once on zeros (first-run allocations, kernel selection), discarding the outputs. */
export async function warmUpBlocks(blocks: BlockSessions, sampleShape: readonly number[]): Promise<void> {
  const rows = (blocks.guidance ? 2 : 1) * blocks.batch;
  const shape = [rows, ...sampleShape];
  const zeros = () => new Tensor("float32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));
  for (const kind of ["H", "P", "R"] as const) {
    const session = blocks[kind];
    if (!session) continue;
    const feeds: Record<string, RunValue> = {
      x: zeros(),
      t0: scalar(0),
      t1: scalar(0.5),
      y: Tensor.from("int64", [rows], new Array<bigint>(rows).fill(0n)),
    };
    if (blocks.guidance) {
      feeds.s0 = scalar(1);
      feeds.s1 = scalar(1);
    }
    if (kind === "P") feeds.cache = zeros();
    if (kind === "R") feeds.v = zeros();
    for (const name of session.inputNames)
      if (blocks.weights && name in blocks.weights) feeds[name] = blocks.weights[name];
    const out = await session.run(feeds, BLOCK_IO.outputs[kind]);
    dispose(Object.values(out), []);
  }
}

export interface BlockBatchOptions {
  plan: Plan;
  /** Shape of one sample, [C, H, W]. */
  sampleShape: readonly number[];
  /** Null class id (used under guidance). */
  nullClass: number;
  /** Guidance scale; 1 = none. */
  cfgScale: number;
  /** The channels the request guides (checked against those compiled into the graphs). */
  guidanceChannels: GuidedChannels;
  guidanceInterval?: readonly [number, number];
  signal?: SolverAbortSignal;
  onStep?: BlockPlanOptions["onStep"];
  stepStates?: boolean;
  beforeReadback?: BlockPlanOptions["beforeReadback"];
  transfers?: TransferCounts;
}

/**
 * One batch of b <= blocks.batch samples from noise z (b rows) and labels: pads to the compiled batch
 * (zero noise, the first label; padded rows are dropped), doubles under guidance, runs the plan and
 * returns the b samples (the first half).
 */
export async function sampleBatchWithBlocks(
  blocks: BlockSessions,
  z: Float32Array,
  labels: readonly number[],
  opts: BlockBatchOptions,
): Promise<{ x: Float32Array; nfe: NfeCounts; transfers: TransferCounts }> {
  const b = labels.length;
  const per = opts.sampleShape.reduce((a, c) => a * c, 1);
  const B = blocks.batch;
  if (b > B) throw new Error(`a batch of ${b} samples exceeds the compiled block batch ${B}`);
  const guided = opts.cfgScale !== 1;
  if (guided && blocks.guidance) {
    const c = opts.sampleShape[0];
    const want = resolveChannels(opts.guidanceChannels ?? "sit", c).join(",");
    const have = resolveChannels(blocks.guidance.channels, c).join(",");
    if (want !== have)
      throw new Error(`block graphs guide channels [${have}], the request asks for [${want}]`);
  }
  const padded = new Float32Array(B * per);
  padded.set(z.subarray(0, b * per));
  const rowLabels = Array.from({ length: B }, (_, i) => labels[Math.min(i, b - 1)]);
  const x0 = guided ? new Float32Array(2 * B * per) : padded;
  if (guided) {
    x0.set(padded, 0);
    x0.set(padded, B * per);
  }
  const r = await runBlockPlan(blocks, x0, {
    plan: opts.plan,
    shape: [guided ? 2 * B : B, ...opts.sampleShape],
    labels: guided ? [...rowLabels, ...new Array<number>(B).fill(opts.nullClass)] : rowLabels,
    guidance: guided ? { scale: opts.cfgScale, interval: opts.guidanceInterval } : undefined,
    signal: opts.signal,
    onStep: opts.onStep,
    stepStates: opts.stepStates,
    beforeReadback: opts.beforeReadback,
    transfers: opts.transfers,
  });
  return { x: r.x.slice(0, b * per), nfe: r.nfe, transfers: r.transfers };
}
