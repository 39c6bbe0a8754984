// `flowturbo bench`: latency, NFE and error against a reference solve for FlowTurbo plans and
// baselines from the same noise, acceleration ratios (paper Table 3a), an error-vs-latency plot.
import { writeFile } from "node:fs/promises";
import { createNodeBackend } from "@flowturbo/backend-node";
import { initialNoise, type SamplingMethod, sample } from "@flowturbo/core";
import { labelsForSamples, Tensor } from "@flowturbo/tensor";
import { type BenchRow, accelerationRatios, errorLatencySvg, median, relativeL2 } from "../benchReport";
import { type Command, EXIT, UsageError } from "../cli";
import { parseIntFlag } from "../files";
import { openCompiled } from "../models";
import { PLAN_PRESETS, parseCompile } from "./sample";

const list = (v: unknown, fallback: string) =>
  String(v ?? fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export const bench: Command = {
  name: "bench",
  summary: "latency, NFE and error vs a reference solve for FlowTurbo plans and Heun (or other) baselines",
  usage:
    "flowturbo bench --base MODEL [--refiner MODEL] [--plans fast,quality] [--heun 8,11,15,24] [--solvers rk4:4] [--n 8] [--batch 8] [--repeats 5] [--cfg 1.5] [--plot bench.svg] [--compile none|model|block] [--forward --batches 1,8]",
  examples: [
    "flowturbo bench --base sit-xl-2.onnx --refiner refiner.onnx --plans H1P5R3,H2P4R2 --heun 4,6,8 --n 8 --plot bench.svg",
    "flowturbo bench --base sit-xl-2.onnx --forward --batches 1,8 --json",
  ],
  options: {
    base: { type: "string" },
    refiner: { type: "string" },
    plans: { type: "string" },
    heun: { type: "string" },
    solvers: { type: "string" },
    n: { type: "string" },
    batch: { type: "string" },
    repeats: { type: "string" },
    cfg: { type: "string" },
    seed: { type: "string" },
    rtol: { type: "string" },
    plot: { type: "string" },
    forward: { type: "boolean" },
    batches: { type: "string" },
    heads: { type: "string" },
    compile: { type: "string" },
  },
  async run(ctx) {
    const v = ctx.values;
    if (!v.base) throw new UsageError("--base MODEL is required");
    const n = parseIntFlag(v.n, "--n") ?? 8;
    const batch = parseIntFlag(v.batch, "--batch") ?? n;
    const repeats = parseIntFlag(v.repeats, "--repeats") ?? 5;
    const seed = parseIntFlag(v.seed, "--seed", 0) ?? 0;
    const cfg = v.cfg === undefined ? 1 : Number(v.cfg);
    const rtol = v.rtol === undefined ? 1e-5 : Number(v.rtol);
    if (!Number.isFinite(cfg) || !(rtol > 0)) throw new UsageError("--cfg and --rtol must be numbers");
    // --compile applies to the plans and Heun runs (default block); the dopri5 reference, --solvers
    // and --forward use per-call sessions (at "none" when asked, else "model")
    if (v.forward && v.compile === "block")
      throw new UsageError("--forward times single model calls: use --compile none or model");
    const level = parseCompile(v.compile ?? (v.forward ? "model" : undefined), { plan: "H1" });
    const backend = createNodeBackend();
    try {
      const heads = parseIntFlag(v.heads, "--heads");
      const planNames = list(v.plans, v.refiner ? "fast,quality" : "").map((p) => PLAN_PRESETS[p] ?? p);
      const heunSteps = list(v.heun, "4,8").map((k) => parseIntFlag(k, "--heun"));
      if (!v.forward && !v.refiner && planNames.some((p) => /R/i.test(p)))
        throw new UsageError("plans with R blocks need --refiner MODEL");
      const models = await openCompiled(backend, {
        base: v.base as string,
        refiner: v.forward ? undefined : (v.refiner as string | undefined),
        heads,
        providers: ["cpu"],
        level,
        perCall: true,
        block: {
          batch: Math.min(batch, n),
          guided: cfg !== 1,
          plans: [...planNames, ...heunSteps.map((k) => `H${k}`)],
        },
      });
      const base = { session: models.base!, config: models.config, file: models.file };
      const c = base.config;
      const shape = [c.keepChannels, c.inputSize, c.inputSize];
      const time = async (fn: () => Promise<unknown>) => {
        await fn(); // warm-up
        const ms: number[] = [];
        for (let r = 0; r < repeats; r++) {
          const t0 = performance.now();
          await fn();
          ms.push(performance.now() - t0);
        }
        return median(ms);
      };

      if (v.forward) {
        const rows = [];
        for (const b of list(v.batches, "1,8").map((s) => parseIntFlag(s, "--batches") as number)) {
          const feeds = {
            x: new Tensor("float32", [b, ...shape], initialNoise(seed, 0, b, shape)),
            t: Tensor.from("float32", [b], new Array(b).fill(0.5)),
            y: Tensor.from("int64", [b], new Array(b).fill(0)),
          };
          const ms = await time(() => base.session.run(feeds));
          rows.push({ batch: b, msPerForward: ms, msPerImage: ms / b });
        }
        if (ctx.json)
          ctx.stdout.write(
            `${JSON.stringify({ model: base.file, provider: base.session.provider, repeats, forward: rows })}\n`,
          );
        else
          for (const r of rows)
            ctx.stdout.write(
              `batch ${r.batch}: ${r.msPerForward.toFixed(1)} ms/forward, ${r.msPerImage.toFixed(1)} ms/image\n`,
            );
        return EXIT.ok;
      }

      const refiner = models.refiner ? { session: models.refiner } : undefined;
      const methods: { name: string; kind: BenchRow["kind"]; method: SamplingMethod }[] = [];
      for (const p of planNames) methods.push({ name: p, kind: "flowturbo", method: { plan: p } });
      for (const k of heunSteps)
        methods.push({ name: `heun:${k}`, kind: "baseline", method: { plan: `H${k}` } });
      for (const s of list(v.solvers, "")) {
        const [solver, steps] = s.split(":");
        methods.push({
          name: s,
          kind: "baseline",
          method: { solver, steps: parseIntFlag(steps, `--solvers ${s}`) } as SamplingMethod,
        });
      }
      const labels = Array.from(labelsForSamples(seed, 0, n, c.numClasses)); // as `sample` without --class
      const run = (method: SamplingMethod) =>
        sample({
          base: base.session,
          refiner: refiner?.session,
          ...(level === "block" && "plan" in method
            ? { compile: "block" as const, blocks: models.blocks!.sessions }
            : {}),
          shape,
          labels,
          nullClass: c.numClasses,
          method,
          seed,
          cfgScale: cfg,
          guidanceChannels: "sit",
          batchSize: batch,
        });
      const reference = await run({ solver: "dopri5", rtol, atol: rtol / 100 });
      const ref = reference.latents.data as Float32Array;
      const rows: BenchRow[] = [];
      for (const m of methods) {
        let last = await run(m.method);
        const ms = await time(async () => {
          last = await run(m.method);
        });
        rows.push({
          method: m.name,
          kind: m.kind,
          batch,
          msPerImage: ms / n,
          nfe: last.nfe,
          error: relativeL2(last.latents.data as Float32Array, ref),
        });
      }
      const ratios = accelerationRatios(rows);
      if (v.plot)
        await writeFile(
          v.plot as string,
          errorLatencySvg(rows, `${base.file}: error vs latency (batch ${batch}, cfg ${cfg})`),
        );
      const report = {
        model: base.file,
        provider: base.session.provider,
        n,
        batch,
        repeats,
        cfg,
        compile: level,
        reference: { solver: "dopri5", rtol, nfe: reference.nfe.base },
        rows,
        acceleration: ratios,
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        ctx.stdout.write(
          `${"method".padEnd(12)} ${"ms/image".padStart(10)} ${"NFE".padStart(8)} ${"rel. error".padStart(11)}\n`,
        );
        for (const r of rows) {
          const calls = Math.ceil(n / batch); // NFE counts model calls per batch trajectory
          const nfe = r.nfe.refiner
            ? `${r.nfe.base / calls}+${r.nfe.refiner / calls}R`
            : `${r.nfe.base / calls}`;
          ctx.stdout.write(
            `${r.method.padEnd(12)} ${r.msPerImage.toFixed(1).padStart(10)} ${nfe.padStart(8)} ${r.error.toExponential(2).padStart(11)}\n`,
          );
        }
        for (const a of ratios)
          ctx.stdout.write(
            a.ratio
              ? `${a.plan}: ${a.ratio.toFixed(2)}x faster than ${a.heun} at equal or better error\n`
              : `${a.plan}: no Heun run as accurate\n`,
          );
        if (v.plot) ctx.stdout.write(`wrote ${v.plot}\n`);
      }
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
};
