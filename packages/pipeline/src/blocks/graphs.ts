// Sample-aware (block) compilation, the graph side: one static-shape graph per FlowTurbo block kind
// (H, P, R) holding both network calls of the block, the classifier-free guidance on the doubled
// batch and the Heun update, exactly as docs/FLOWTURBO.md section 4 and the per-call solvers
// (@flowturbo/solvers flowTurbo/heun/refinerBlock/guidance). ./executor.ts runs them.
import {
  type Backend,
  type DeviceTensor,
  isDeviceTensor,
  type RunValue,
  type Session,
  type SessionOptions,
} from "@flowturbo/core";
import { type SiTConfig, sitNetwork } from "@flowturbo/sit";
import { type GuidedChannels, type Plan, resolveChannels } from "@flowturbo/solvers";
import { Graph, type GraphForm, op, Scope, Tensor, type Value } from "@flowturbo/tensor";
import { graphFormFor } from "../rules";
import { warmUpBlocks } from "./executor";
import { BLOCK_IO, type BlockSessions, blockKindsFor } from "./io";

/** Prefix of the refiner's parameters in block graphs (its state dict keys get "refiner."). */
export const REFINER_PREFIX = "refiner";

export interface BlockGraphOptions {
  base: SiTConfig;
  /** The refiner's config (refinerConfig(base) for FlowTurbo's); needed for the R graph. */
  refiner?: SiTConfig;
  /** Samples per batch B; the state has N = 2B rows under guidance, B without. */
  batch: number;
  /** Guidance on the doubled batch (the scale is a run-time input: s0 at t0, s1 at t1). Omitted: cfg 1. */
  guidance?: { channels: GuidedChannels };
  /** Which graphs to build (default: H and P, plus R when `refiner` is given). */
  kinds?: readonly ("H" | "P" | "R")[];
  /** The networks' graph form (default "plain"; compileBlocks defaults to graphFormFor(backend, providers)). */
  form?: GraphForm;
}

export interface BlockGraphs {
  H?: Graph;
  P?: Graph;
  R?: Graph;
  /** State shape [N, C, H, W]. */
  stateShape: number[];
  /** The guided channel indices, or undefined without guidance. */
  channels?: number[];
}

/** What a block graph needs besides its network: inputs, the time expansion and guidance. */
class BlockBuilder {
  readonly g: Graph;
  readonly x: Value;
  readonly t0: Value;
  readonly t1: Value;
  readonly y: Value;
  readonly dt: Value;
  private readonly s0?: Value;
  private readonly s1?: Value;

  constructor(
    name: string,
    readonly shape: readonly number[],
    readonly rows: number,
    readonly channels: number[] | undefined,
  ) {
    this.g = new Graph(name);
    this.x = this.g.input("x", "float32", shape);
    this.t0 = this.g.input("t0", "float32", []);
    this.t1 = this.g.input("t1", "float32", []);
    if (channels) {
      this.s0 = this.g.input("s0", "float32", []);
      this.s1 = this.g.input("s1", "float32", []);
    }
    this.y = this.g.input("y", "int64", [rows]);
    this.dt = op.sub(this.t1, this.t0);
  }

  /** t as the [N] vector a network takes. */
  times(t: Value): Value {
    return op.expand(t, [this.rows]);
  }

  scale(at: "t0" | "t1"): Value | undefined {
    return at === "t0" ? this.s0 : this.s1;
  }

  /** The network's view of x: under guidance the first half copied over both halves. */
  networkInput(x: Value): Value {
    if (!this.channels) return x;
    const half = op.slice(x, { starts: [0], ends: [this.rows / 2], axes: [0] });
    return op.concat([half, half], 0);
  }

  /**
   * Guidance on a doubled-batch output: guided channels of both halves get u + s (c - u), other
   * channels keep each half's own value (GuidanceOps.guide).
   */
  guide(out: Value, s: Value | undefined): Value {
    if (!this.channels || !s) return out;
    const half = this.rows / 2;
    const cond = op.slice(out, { starts: [0], ends: [half], axes: [0] });
    const uncond = op.slice(out, { starts: [half], ends: [this.rows], axes: [0] });
    const guided = op.add(uncond, op.mul(s, op.sub(cond, uncond)));
    const both = op.concat([guided, guided], 0);
    const c = this.shape[1];
    if (this.channels.length === c) return both;
    const mask = Tensor.from(
      "bool",
      [1, c, 1, 1],
      Array.from({ length: c }, (_, i) => (this.channels!.includes(i) ? 1 : 0)),
    );
    return op.where(op.constant(this.g, mask), both, out);
  }

  /** x + dt * d */
  euler(x: Value, d: Value): Value {
    return op.add(x, op.mul(this.dt, d));
  }

  /** x + dt/2 * (d + d') */
  heun(x: Value, d: Value, dPrime: Value): Value {
    return op.add(x, op.mul(op.mul(this.dt, 0.5), op.add(d, dPrime)));
  }
}

/**
 * The block graphs of a base model (and refiner) for a batch size: static shapes, parameters named
 * as the base state dict and "refiner." + the refiner's state dict. Inputs/outputs as BLOCK_IO:
 *   H: x, t0, t1, [s0, s1], y -> x_next, cache_next           (d = F(x,t0), d' = F(x + dt d, t1))
 *   P: x, t0, t1, [s0, s1], y, cache -> x_next, cache_next    (d = cache)
 *   R: x, t0, t1, [s0, s1], y, v -> x_next, v_next, cache_next (d = G(x,t0,v)+v, d' = G(x + dt d,t1,v)+d)
 * with x_next = x + dt/2 (d + d'), cache_next = d', v_next = d, dt = t1 - t0, F/G guided.
 */
export function blockGraphs(opts: BlockGraphOptions): BlockGraphs {
  const { base, refiner, batch } = opts;
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const c = base.keepChannels;
  const rows = opts.guidance ? 2 * batch : batch;
  const shape = [rows, c, base.inputSize, base.inputSize];
  const channels = opts.guidance ? resolveChannels(opts.guidance.channels, c) : undefined;
  const kinds = opts.kinds ?? (refiner ? ["H", "P", "R"] : ["H", "P"]);
  if (
    refiner &&
    (refiner.inChannels !== 2 * c || refiner.keepChannels !== c || refiner.inputSize !== base.inputSize)
  ) {
    throw new Error(
      `refiner config (in ${refiner.inChannels}, keep ${refiner.keepChannels}, size ${refiner.inputSize}) does not fit the base model (${c} channels, size ${base.inputSize})`,
    );
  }
  const out: BlockGraphs = { stateShape: shape, channels };

  const net = { form: opts.form };
  const velocity = (b: BlockBuilder, x: Value, t: Value, s: Value | undefined) =>
    b.guide(sitNetwork(new Scope(b.g), b.networkInput(x), b.times(t), b.y, base, net), s);

  for (const kind of kinds) {
    const b = new BlockBuilder(`flowturbo_block_${kind}`, shape, rows, channels);
    if (kind === "R") {
      if (!refiner) throw new Error("the R block graph needs the refiner's config (options.refiner)");
      const v = b.g.input("v", "float32", shape);
      const scope = new Scope(b.g, REFINER_PREFIX);
      const refine = (x: Value, t: Value, s: Value | undefined) =>
        b.guide(sitNetwork(scope, op.concat([b.networkInput(x), v], 1), b.times(t), b.y, refiner, net), s);
      const d = op.add(refine(b.x, b.t0, b.scale("t0")), v);
      const dPrime = op.add(refine(b.euler(b.x, d), b.t1, b.scale("t1")), d);
      b.g.output("x_next", b.heun(b.x, d, dPrime));
      b.g.output("v_next", d);
      b.g.output("cache_next", dPrime);
      out.R = b.g;
    } else {
      const d = kind === "P" ? b.g.input("cache", "float32", shape) : velocity(b, b.x, b.t0, b.scale("t0"));
      const dPrime = velocity(b, b.euler(b.x, d), b.t1, b.scale("t1"));
      b.g.output("x_next", b.heun(b.x, d, dPrime));
      b.g.output("cache_next", dPrime);
      out[kind] = b.g;
    }
  }
  return out;
}

/** The weights of the block graphs: the base state dict as is, the refiner's under "refiner.". */
export function blockWeights(
  base: ReadonlyMap<string, Tensor>,
  refiner?: ReadonlyMap<string, Tensor>,
): Map<string, Tensor> {
  const out = new Map(base);
  for (const [k, v] of refiner ?? []) out.set(`${REFINER_PREFIX}.${k}`, v);
  return out;
}

/** An identity graph over the given parameters: outputs w0.. (keepOnDevice) are the resident copies. */
function uploadGraph(params: readonly { name: string; value: Value }[]): Graph {
  const g = new Graph("flowturbo_block_weights");
  params.forEach((p, i) => {
    g.output(`w${i}`, op.identity(g.input(p.name, p.value.dtype, p.value.shape)));
  });
  return g;
}

export interface CompileBlocksOptions extends BlockGraphOptions {
  /** Weights by block-graph parameter name (blockWeights(base, refiner)). */
  weights: ReadonlyMap<string, Tensor>;
  /** The plan(s) to serve: only the block kinds they need are compiled (default: options.kinds / all). */
  plans?: readonly Plan[];
  /**
   * "shared" (default): parameters are graph inputs, uploaded once through an identity session whose
   * outputs stay on the device (keepOnDevice), and those device values are fed to every block session
   * (one copy). "initializers": every block graph embeds the weights it uses (H and P each hold a copy
   * of the base weights), which lets ORT constant-fold and prepack them.
   */
  weightMode?: "shared" | "initializers";
  /** Session options of the block sessions (providers, threads); optimization defaults to "all". */
  session?: SessionOptions;
  /** Run every block session once after loading (default false). */
  warmUp?: boolean;
  /** With `plans`: compile P in place of H (H blocks then run as two P runs; blockKindsFor's `heunAsP`). */
  heunAsP?: boolean;
}

export interface CompiledBlocks {
  sessions: BlockSessions;
  /** How the weights are held, and whether they really stayed on the device ("worker", "gpu-buffer"; "host" when the backend returned them). */
  weights: { mode: "shared" | "initializers"; location?: string; parameters: number };
  /** The block graphs (for inspection). */
  graphs: BlockGraphs;
  release(): Promise<void>;
}

/** Builds, loads (and optionally warms up) the block sessions of a model for one batch size. */
export async function compileBlocks(backend: Backend, opts: CompileBlocksOptions): Promise<CompiledBlocks> {
  const needed = opts.plans?.length
    ? [...new Set(opts.plans.flatMap((p) => blockKindsFor(p, { heunAsP: opts.heunAsP })))]
    : (opts.kinds ?? (opts.refiner ? ["H", "P", "R"] : ["H", "P"]));
  const kinds = (["H", "P", "R"] as const).filter((k) => needed.includes(k));
  const graphs = blockGraphs({
    ...opts,
    kinds,
    form: opts.form ?? graphFormFor(backend, opts.session?.providers),
  });
  const mode = opts.weightMode ?? "shared";
  const sessionOptions: SessionOptions = { optimization: "all", ...opts.session };
  const loaded: Session[] = [];
  const release = async () => {
    for (const s of loaded.reverse()) await s.release();
  };
  try {
    // every parameter used by some block graph, once
    const params = new Map<string, Value>();
    for (const kind of kinds)
      for (const [name, p] of graphs[kind]!.params) if (!params.has(name)) params.set(name, p.value);
    for (const [name, v] of params) {
      const w = opts.weights.get(name);
      if (!w) throw new Error(`compileBlocks: missing weight '${name}' (${v.dtype}[${v.shape.join(", ")}])`);
      if (w.shape.join(",") !== v.shape.join(","))
        throw new Error(
          `compileBlocks: weight '${name}' has shape [${w.shape.join(", ")}], expected [${v.shape.join(", ")}]`,
        );
    }
    let weights: Record<string, RunValue> | undefined;
    let location: string | undefined;
    if (mode === "shared") {
      const list = [...params].map(([name, value]) => ({ name, value }));
      const upload = await backend.load(
        { graph: uploadGraph(list) },
        { ...opts.session, optimization: "disabled", keepOnDevice: list.map((_, i) => `w${i}`) },
      );
      loaded.push(upload);
      const feeds: Record<string, Tensor> = {};
      for (const { name, value } of list) {
        const w = opts.weights.get(name)!;
        feeds[name] = w.dtype === value.dtype ? w : w.astype(value.dtype);
      }
      const out = await upload.run(feeds);
      weights = {};
      const locations = new Set<string>();
      list.forEach(({ name }, i) => {
        const v = out[`w${i}`];
        locations.add(isDeviceTensor(v) ? (v as DeviceTensor).location : "host");
        weights![name] = v;
      });
      location = [...locations].join(",");
    }
    const sessions: BlockSessions = {
      batch: opts.batch,
      guidance: opts.guidance ? { channels: opts.guidance.channels } : undefined,
      weights,
    };
    for (const kind of kinds) {
      const graph = graphs[kind]!;
      const session = await backend.load(
        mode === "shared" ? { graph, paramsAsInputs: true } : { graph, weights: opts.weights },
        { ...sessionOptions, keepOnDevice: [...BLOCK_IO.outputs[kind]] },
      );
      loaded.push(session);
      sessions[kind] = session;
    }
    if (opts.warmUp) {
      await warmUpBlocks(sessions, graphs.stateShape.slice(1));
    }
    let parameters = 0;
    for (const v of params.values()) parameters += v.shape.reduce((a, b) => a * b, 1);
    return { sessions, weights: { mode, location, parameters }, graphs, release };
  } catch (e) {
    await release();
    throw e;
  }
}
