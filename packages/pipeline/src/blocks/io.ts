// The contract between the block graphs (./graphs.ts) and the block executor (./executor.ts): input
// and output names, the compiled sessions, and the counters of what moved between host and device.
import type { BlockKind, GuidedChannels, Plan } from "@flowturbo/solvers";
import type { RunValue, Session } from "@flowturbo/core";

/** Input and output names of the block graphs: the contract between blockGraphs and this executor. */
export const BLOCK_IO = {
  /** x [N,C,H,W] f32; t0, t1 [] f32; s0, s1 [] f32 (guidance scale at t0, t1; guided graphs only); y [N] i64; cache / v [N,C,H,W]. */
  inputs: ["x", "t0", "t1", "s0", "s1", "y", "cache", "v"],
  /** x_next; cache_next (the velocity at the predictor point, d'); v_next (R only: the refined d). */
  outputs: {
    H: ["x_next", "cache_next"],
    P: ["x_next", "cache_next"],
    R: ["x_next", "v_next", "cache_next"],
  },
} as const;

/** Compiled block sessions for one batch size and guidance mode. */
export interface BlockSessions {
  /** Samples per batch the graphs were built for (static shapes); the state has 2*batch rows under guidance. */
  batch: number;
  /** Guidance compiled into the graphs (the scale is an input); undefined: graphs without guidance (cfg 1). */
  guidance?: { channels: GuidedChannels };
  /**
   * H block (also runs a P block that has no cache yet, e.g. the first block of "P4R2"). Without it (and
   * with P), an H block runs as two P runs: t1 = t0 and a zero cache give d = F(x, t0) as cache_next,
   * then the P block from that cache is the Heun step (blockKindsFor's `heunAsP`).
   */
  H?: Session;
  P?: Session;
  R?: Session;
  /**
   * Inputs fed to every block run whose session takes them, by input name: the weights when the
   * graphs take their parameters as inputs (one resident copy shared by all block sessions).
   */
  weights?: Readonly<Record<string, RunValue>>;
}

/** What moved between the host and the device during block sampling. */
export interface TransferCounts {
  /** Host-to-device uploads of the state (the initial x: one per batch). */
  stateUploads: number;
  /** Device-to-host downloads the executor made of the final x (one per batch). */
  downloads: number;
  /** Downloads of the state after a block for previews (`stepStates`: one per block but the last). */
  stepDownloads: number;
  /** State outputs of block runs (x, cache, v) that a backend returned as host tensors, i.e. copied to the host. */
  hostOutputs: number;
  /** Block session runs. */
  runs: number;
  /** Where the state lived between blocks: DeviceTensor.location values ("worker", "gpu-buffer"), "host". */
  locations: string[];
}

export function emptyTransferCounts(): TransferCounts {
  return { stateUploads: 0, downloads: 0, stepDownloads: 0, hostOutputs: 0, runs: 0, locations: [] };
}

/**
 * The block kinds whose sessions a plan needs (H also for a P block without a cache: "P4R2"). With
 * `heunAsP`, P stands in for H: an H block runs as two runs of the P graph (runBlockPlan).
 */
export function blockKindsFor(p: Plan, opts: { heunAsP?: boolean } = {}): BlockKind[] {
  const kinds = new Set<BlockKind>();
  let cache = false;
  for (const b of p.blocks) {
    const k = b === "P" && !cache ? "H" : b;
    kinds.add(k === "H" && opts.heunAsP ? "P" : k);
    cache = true;
  }
  return (["H", "P", "R"] as const).filter((k) => kinds.has(k));
}
