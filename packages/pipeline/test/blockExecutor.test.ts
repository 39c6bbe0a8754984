// The block executor's bookkeeping (which block gets which cache / v, times, guidance scale per call,
// NFE, padding, transfers, disposal) against the per-call solvers, with block sessions written in
// JS over a toy velocity model and "device" tensors that count their downloads.
import {
  float32Ops,
  type GuidanceOptions,
  guidedRefiner,
  guidedVelocity,
  parsePlan,
  type RefinerField,
  sampleFlowTurbo,
  type VelocityField,
} from "@flowturbo/solvers";
import { Tensor } from "@flowturbo/tensor";
import { describe, expect, test } from "vitest";
import { type DeviceTensor, isDeviceTensor, type RunValue, type Session } from "@flowturbo/core";
import { type BlockSessions, blockKindsFor, parseMethod, runBlockPlan, sample } from "../src";

/** Toy networks on [N, 4, 2, 2] states: row r with label l. */
const net = (x: Float32Array, t: number, labels: ArrayLike<number>): Float32Array => {
  const per = x.length / labels.length;
  return x.map((v, i) => Math.tanh(0.7 * v + 0.1 * labels[Math.floor(i / per)] - 0.3 * t) * (1 + t));
};
const refinerNet = (x: Float32Array, t: number, v: Float32Array, labels: ArrayLike<number>) => {
  const per = x.length / labels.length;
  return x.map((xi, i) => 0.2 * Math.sin(xi + 0.5 * v[i] + t) + 0.01 * labels[Math.floor(i / per)]);
};

class FakeDevice {
  live = new Set<FakeTensor>();
  downloads = 0;
  /** Downloads wait for this (a GPU that is still busy with queued blocks). */
  busy?: Promise<void>;
}

class FakeTensor implements DeviceTensor {
  readonly kind = "device";
  readonly dtype = "float32";
  readonly location = "fake";
  constructor(
    readonly device: FakeDevice,
    readonly shape: readonly number[],
    readonly data: Float32Array,
  ) {
    device.live.add(this);
  }
  async download(): Promise<Tensor> {
    this.device.downloads++;
    await this.device.busy;
    return new Tensor("float32", this.shape, this.data.slice());
  }
  dispose(): void {
    this.device.live.delete(this);
  }
}

const host = (v: RunValue | undefined): Float32Array => {
  if (!v) throw new Error("missing input");
  if (isDeviceTensor(v)) {
    if (!(v as FakeTensor).device.live.has(v as FakeTensor)) throw new Error("fed a disposed tensor");
    return (v as FakeTensor).data;
  }
  return v.toFloat32();
};
const num = (v: RunValue | undefined) => host(v)[0];

/** JS block sessions with the semantics of docs/FLOWTURBO.md section 4, written with the solvers' own pieces. */
function fakeBlocks(device: FakeDevice, batch: number, guided: boolean): BlockSessions {
  const make = (kind: "H" | "P" | "R"): Session => ({
    provider: "reference",
    inputNames: [
      "x",
      "t0",
      "t1",
      ...(guided ? ["s0", "s1"] : []),
      "y",
      ...(kind === "P" ? ["cache"] : []),
      ...(kind === "R" ? ["v"] : []),
    ],
    outputNames: kind === "R" ? ["x_next", "v_next", "cache_next"] : ["x_next", "cache_next"],
    async run(feeds): Promise<Record<string, RunValue>> {
      const x = host(feeds.x);
      const shape = [...(feeds.x as Tensor | FakeTensor).shape];
      const [t0, t1] = [num(feeds.t0), num(feeds.t1)];
      const labels = Array.from((feeds.y as Tensor).data as BigInt64Array, Number);
      const g = (s: number): GuidanceOptions<Float32Array> | undefined =>
        guided ? { scale: s, shape, channels: "sit" } : undefined;
      const F = (s: number): VelocityField<Float32Array> => {
        const f: VelocityField<Float32Array> = (xx, t) => net(xx, t, labels);
        const o = g(s);
        return o ? guidedVelocity(f, o) : f;
      };
      const G = (s: number): RefinerField<Float32Array> => {
        const f: RefinerField<Float32Array> = (xx, t, v) => refinerNet(xx, t, v, labels);
        const o = g(s);
        return o ? guidedRefiner(f, o) : f;
      };
      const [s0, s1] = guided ? [num(feeds.s0), num(feeds.s1)] : [1, 1];
      const ctx = { step: 0 };
      const h = t1 - t0;
      const lin = float32Ops.lincomb;
      const wrap = (a: Float32Array) => new FakeTensor(device, shape, a);
      if (kind === "R") {
        const v = host(feeds.v);
        const d = lin([1, 1], [await G(s0)(x, t0, v, ctx), v]);
        const dp = lin([1, 1], [await G(s1)(lin([1, h], [x, d]), t1, v, ctx), d]);
        return {
          x_next: wrap(lin([1, h / 2, h / 2], [x, d, dp])),
          v_next: wrap(d),
          cache_next: wrap(dp),
        };
      }
      const d = kind === "P" ? host(feeds.cache) : await F(s0)(x, t0, ctx);
      const dp = await F(s1)(lin([1, h], [x, d]), t1, ctx);
      return { x_next: wrap(lin([1, h / 2, h / 2], [x, d, dp])), cache_next: wrap(dp) };
    },
    async release() {},
  });
  return {
    batch,
    guidance: guided ? { channels: "sit" } : undefined,
    H: make("H"),
    P: make("P"),
    R: make("R"),
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("runBlockPlan", () => {
  test.each([
    ["H1P2R2", 3, undefined],
    ["H2P3R1", 1.5, [0.2, 0.7] as const],
    ["P2R2", 4, undefined], // a first P block has no cache: H graph
    ["H1R1P2R1", 2, undefined], // free order: P after R uses the R block's d' as its cache
    ["H2P2R1", 1, undefined],
  ])("%s at cfg %s (interval %s) follows sampleFlowTurbo", async (plan, cfg, interval) => {
    const device = new FakeDevice();
    const guided = cfg !== 1;
    const rows = guided ? 4 : 2;
    const shape = [rows, 4, 2, 2];
    const labels = guided ? [1, 2, 9, 9] : [1, 2];
    const z = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i * 0.37));
    const x0 = guided ? Float32Array.from([...z, ...z]) : z;
    const r = await runBlockPlan(fakeBlocks(device, 2, guided), x0, {
      plan: parsePlan(plan),
      shape,
      labels,
      guidance: guided ? { scale: cfg, interval } : undefined,
    });
    const ref = await sampleFlowTurbo<Float32Array>((x, t) => net(x, t, labels), x0, {
      plan,
      refiner: (x, t, v) => refinerNet(x, t, v, labels),
      guidance: guided ? { scale: cfg, shape, channels: "sit", interval } : undefined,
    });
    // times travel as float32 scalars: differences at the float32 rounding of t
    expect(maxAbsDiff(r.x, ref.x)).toBeLessThan(1e-6);
    expect(r.nfe).toEqual(ref.nfe);
    expect(r.transfers).toEqual({
      stateUploads: 1,
      downloads: 1,
      stepDownloads: 0,
      hostOutputs: 0,
      runs: ref.steps,
      locations: ["fake"],
    });
    expect(device.downloads).toBe(1);
    expect(device.live.size).toBe(0); // every intermediate and the final state disposed
  });

  test("stepStates: the state after every block (one download each, the last is the result); without: one readback", async () => {
    const plan = "H1P2R2";
    const labels = [1, 2, 9, 9];
    const shape = [4, 4, 2, 2];
    const z = Float32Array.from({ length: 32 }, (_, i) => Math.cos(i * 0.21));
    const x0 = Float32Array.from([...z, ...z]);
    const ref: Float32Array[] = [];
    await sampleFlowTurbo<Float32Array>((x, t) => net(x, t, labels), x0, {
      plan,
      refiner: (x, t, v) => refinerNet(x, t, v, labels),
      guidance: { scale: 2, shape, channels: "sit" },
      onStep: ({ x }) => {
        ref.push(x.slice());
      },
    });
    const run = async (stepStates: boolean) => {
      const device = new FakeDevice();
      const events: string[] = [];
      const states: Float32Array[] = [];
      const r = await runBlockPlan(fakeBlocks(device, 2, true), x0, {
        plan: parsePlan(plan),
        shape,
        labels,
        guidance: { scale: 2 },
        stepStates,
        onStep: ({ step, x }) => {
          events.push(`step ${step}`);
          if (x) states.push(x.slice());
        },
        beforeReadback: ({ step }) => {
          events.push(`readback after ${step}`);
        },
      });
      expect(device.live.size).toBe(0);
      return { r, events, states, downloads: device.downloads };
    };
    const live = await run(true);
    expect(live.events).toEqual(["step 1", "step 2", "step 3", "step 4", "step 5"]);
    expect(live.states).toHaveLength(5);
    live.states.forEach((x, k) => {
      expect(maxAbsDiff(x, ref[k]), `step ${k + 1}`).toBeLessThan(1e-6);
    });
    expect(live.r.x).toEqual(live.states[4]);
    expect(live.r.transfers).toMatchObject({ downloads: 1, stepDownloads: 4, hostOutputs: 0 });
    expect(live.downloads).toBe(5);
    const quiet = await run(false);
    expect(quiet.events).toEqual(["step 1", "step 2", "step 3", "step 4", "step 5", "readback after 5"]);
    expect(quiet.states).toEqual([]);
    expect(quiet.r.transfers).toMatchObject({ downloads: 1, stepDownloads: 0, hostOutputs: 0 });
    expect(quiet.downloads).toBe(1);
    expect(quiet.r.x).toEqual(live.r.x);
  });

  test("a cancel while the final download waits for the device rejects at once and frees the state", async () => {
    const device = new FakeDevice();
    let idle = () => {};
    device.busy = new Promise<void>((resolve) => {
      idle = resolve;
    });
    const abort = new AbortController();
    const run = runBlockPlan(
      fakeBlocks(device, 1, false),
      Float32Array.from({ length: 16 }, (_, i) => i / 16),
      {
        plan: parsePlan("H3"),
        shape: [1, 4, 2, 2],
        labels: [1],
        signal: abort.signal,
        beforeReadback: () => {
          setTimeout(() => abort.abort(), 0); // while the download waits
        },
      },
    );
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(device.downloads).toBe(1); // it was waiting
    idle();
    await device.busy;
    expect(device.live.size).toBe(0);
  });

  test("blockKindsFor: the sessions a plan needs", () => {
    expect(blockKindsFor(parsePlan("H1P5R3"))).toEqual(["H", "P", "R"]);
    expect(blockKindsFor(parsePlan("P4R2"))).toEqual(["H", "P", "R"]);
    expect(blockKindsFor(parsePlan("P1"))).toEqual(["H"]);
    expect(blockKindsFor(parsePlan("H8"))).toEqual(["H"]);
    // heunAsP: H blocks run on the P graph
    expect(blockKindsFor(parsePlan("H1P5R3"), { heunAsP: true })).toEqual(["P", "R"]);
    expect(blockKindsFor(parsePlan("P4R2"), { heunAsP: true })).toEqual(["P", "R"]);
    expect(blockKindsFor(parsePlan("H8"), { heunAsP: true })).toEqual(["P"]);
  });
});

describe("sample() with compile 'block'", () => {
  test("pads a partial last batch, doubles under guidance, and counts one download per batch", async () => {
    const device = new FakeDevice();
    const labels = [0, 3, 1, 2, 4];
    const perCallBase: Session = {
      provider: "reference",
      inputNames: ["x", "t", "y"],
      outputNames: ["v"],
      async run(feeds) {
        const t = num(feeds.t);
        const y = Array.from((feeds.y as Tensor).data as BigInt64Array, Number);
        return { v: new Tensor("float32", (feeds.x as Tensor).shape, net(host(feeds.x), t, y)) };
      },
      async release() {},
    };
    const common = {
      shape: [4, 2, 2],
      labels,
      nullClass: 9,
      method: parseMethod({ plan: "H2P2" }),
      seed: 3,
      cfgScale: 2,
    };
    const a = await sample({ ...common, base: perCallBase, batchSize: 2 });
    const b = await sample({ ...common, compile: "block", blocks: fakeBlocks(device, 2, true) });
    expect(maxAbsDiff(b.latents.data as Float32Array, a.latents.data as Float32Array)).toBeLessThan(1e-6);
    expect(b.nfe).toEqual(a.nfe);
    expect(b.transfers).toMatchObject({ stateUploads: 3, downloads: 3, hostOutputs: 0, runs: 12 });
    expect(device.live.size).toBe(0);
  });

  test("needs blocks, and the sessions its plan uses", async () => {
    const req = { shape: [4, 2, 2], labels: [1], nullClass: 9, seed: 0 };
    await expect(sample({ ...req, compile: "block", method: parseMethod({ plan: "H2" }) })).rejects.toThrow(
      /needs `blocks`/,
    );
    const blocks = { ...fakeBlocks(new FakeDevice(), 1, false), R: undefined };
    await expect(
      sample({ ...req, compile: "block", blocks, method: parseMethod({ plan: "H1R1" }) }),
    ).rejects.toThrow(/compiled R block/);
    await expect(sample({ ...req, method: parseMethod({ plan: "H2" }) })).rejects.toThrow(
      /`base`.*is required/,
    );
  });
});
