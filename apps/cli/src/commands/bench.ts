// `flowturbo bench`: latency, NFE and error against a reference solve for FlowTurbo plans and
// baselines from the same noise, acceleration ratios (paper Table 3a), an error-vs-latency plot.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import {
  type CompileLevel,
  checkRequest,
  defaultCompileLevel,
  type GenerateParams,
  initialNoise,
  MAX_BATCH,
  MAX_SAMPLES,
  PLAN_PRESETS,
  parsePlanMethod,
  type SamplingMethod,
} from "@flowturbo/pipeline";
import { labelsForSamples, Tensor } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { type BenchRow, accelerationRatios, errorLatencySvg, median, relativeL2 } from "../benchReport";
import { type Command, EXIT, UsageError } from "../cli";
import { embeddedModel } from "../embedded";
import { checkOutputFile } from "../files";
import { compileFlag, listFlag as list, methodFromInput, parseIntFlag, refuseProblems } from "../flags";
import { openPipeline } from "../models";
import { cfgDefault } from "./sample";

export const bench: Command = {
  name: "bench",
  summary: "latency, NFE and error vs a reference solve for FlowTurbo plans and Heun (or other) baselines",
  usage:
    "flowturbo bench [--base MODEL --refiner MODEL] [--plans fast,quality] [--heun 4,8] [--solvers rk4:4] [--n 8] [--batch N] [--repeats 5] [--cfg S] [--rtol 1e-5] [--plot bench.svg] [--compile none|model|block]  |  flowturbo bench --forward [--batches 1,8]",
  examples: [
    "flowturbo bench                                    # the embedded emoji model and refiner: fast, quality, Heun 4 and 8",
    "flowturbo bench --base sit-xl-2.onnx --refiner refiner.onnx --plans H1P5R3,H2P4R2 --heun 4,6,8 --n 8 --plot bench.svg",
    "flowturbo bench --base sit-xl-2.onnx --forward --batches 1,8 --json",
  ],
  options: {
    base: {
      type: "string",
      value: "MODEL",
      help: "the SiT base model (.pt, .safetensors or .onnx)",
      default: "the embedded emoji model (models/emoji)",
    },
    refiner: {
      type: "string",
      value: "MODEL",
      help: "the velocity refiner, for plans with R blocks",
      default: "the embedded refiner with the embedded model, else none",
    },
    plans: {
      type: "string",
      value: "PLANS",
      help: `FlowTurbo plans, comma-separated (fast = ${PLAN_PRESETS.fast}, quality = ${PLAN_PRESETS.quality}, H{a}P{b}R{c})`,
      default: "fast,quality with a refiner, else none",
    },
    heun: {
      type: "string",
      value: "STEPS",
      help: "Heun baselines, comma-separated step counts",
      default: "4,8",
    },
    solvers: {
      type: "string",
      value: "LIST",
      help: "other baselines as solver:steps, comma-separated (e.g. rk4:4,euler:16)",
    },
    n: { type: "string", value: "N", help: `samples per run (1..${MAX_SAMPLES})`, default: "8" },
    batch: { type: "string", value: "B", help: `samples per model call (1..${MAX_BATCH})`, default: "n" },
    repeats: {
      type: "string",
      value: "R",
      help: "timed runs per method (the median is reported)",
      default: "5",
    },
    cfg: {
      type: "string",
      value: "S",
      help: "guidance scale, 0..100 (1 = none)",
      default: cfgDefault,
    },
    seed: { type: "string", value: "S", help: "noise seed", default: "0" },
    rtol: {
      type: "string",
      value: "R",
      help: "relative tolerance of the dopri5 reference, in (0, 1) (atol = rtol / 100)",
      default: "1e-5",
    },
    plot: { type: "string", value: "FILE.svg", help: "also an error-vs-latency plot" },
    forward: { type: "boolean", help: "time single model forwards per batch size instead" },
    batches: {
      type: "string",
      value: "LIST",
      help: "--forward: batch sizes, comma-separated",
      default: "1,8",
    },
    heads: {
      type: "string",
      value: "N",
      help: "attention heads, for checkpoints of a non-standard width that do not record them",
    },
    compile: {
      type: "string",
      value: "LEVEL",
      help: "none, model or block for the plans and Heun (the reference, --solvers and --forward run per call)",
      default: "block (--forward: model)",
    },
  },
  async run(ctx) {
    const v = ctx.values;
    // no model given: the embedded default and its refiner, as `sample`
    let basePath = v.base as string | undefined;
    let refinerPath = v.refiner as string | undefined;
    if (!basePath) {
      const embedded = embeddedModel();
      if (!embedded)
        throw new UsageError(
          "--base MODEL is required: the embedded default model (models/emoji/) was not found; set FLOWTURBO_MODEL_DIR or pass --base",
        );
      basePath = embedded.base;
      refinerPath ??= embedded.refiner;
    }
    const n = parseIntFlag(v.n, "--n", 1, MAX_SAMPLES) ?? 8;
    const batch = parseIntFlag(v.batch, "--batch", 1, MAX_BATCH) ?? Math.min(n, MAX_BATCH);
    const repeats = parseIntFlag(v.repeats, "--repeats", 1, 1000) ?? 5;
    const seed = parseIntFlag(v.seed, "--seed", 0) ?? 0;
    const rtol = v.rtol === undefined ? 1e-5 : Number(v.rtol);
    if (!(rtol > 0 && rtol < 1)) throw new UsageError(`--rtol must be a number in (0, 1), got '${v.rtol}'`);
    const reference = methodFromInput(
      { solver: "dopri5", rtol, atol: rtol / 100 },
      { rtol: "--rtol", atol: "--rtol" },
    );
    if (v.cfg !== undefined && !Number.isFinite(Number(v.cfg)))
      throw new UsageError(`--cfg must be a number, got '${v.cfg}'`);
    // --compile applies to the plans and Heun runs (default block); the dopri5 reference, --solvers
    // and --forward use per-call sessions (at "none" when asked, else "model")
    if (v.forward && v.compile === "block")
      throw new UsageError("--forward times single model calls: use --compile none or model");
    const level: CompileLevel = compileFlag(v.compile) ?? (v.forward ? "model" : "block");
    const compileFor = (m: SamplingMethod): CompileLevel =>
      level === "block" ? defaultCompileLevel(m) : level;
    const planMethods = list(v.plans, refinerPath ? "fast,quality" : "").map((p) =>
      methodFromInput({ plan: p }, { plan: "--plans" }),
    );
    const heunSteps = list(v.heun, "4,8").map((k) => parseIntFlag(k, "--heun") as number);
    if (!v.forward && !refinerPath && planMethods.some((m) => m.kind === "plan" && m.plan.counts.R > 0))
      throw new UsageError("plans with R blocks need --refiner MODEL");
    const methods: { name: string; kind: BenchRow["kind"]; method: SamplingMethod }[] = [];
    for (const m of planMethods)
      methods.push({ name: m.kind === "plan" ? m.text : "", kind: "flowturbo", method: m });
    for (const k of heunSteps)
      methods.push({
        name: `heun:${k}`,
        kind: "baseline",
        method: methodFromInput({ solver: "heun", steps: k }, { steps: "--heun" }),
      });
    for (const s of list(v.solvers, "")) {
      const [solver, steps] = s.split(":");
      methods.push({
        name: s,
        kind: "baseline",
        method: methodFromInput(
          { solver, steps: parseIntFlag(steps, `--solvers ${s}`) },
          { solver: "--solvers", steps: "--solvers" },
        ),
      });
    }
    const batchSizes = list(v.batches, "1,8").map(
      (s) => parseIntFlag(s, "--batches", 1, MAX_BATCH) as number,
    );
    // the rules that need no model, and the plot's path, before any work
    for (const m of [...methods, { method: reference }])
      refuseProblems(
        checkRequest({
          method: m.method,
          compile: compileFor(m.method),
          cfg: v.cfg === undefined ? 1 : Number(v.cfg),
          seed,
          samples: n,
          batch,
        }),
      );
    const plot = v.plot as string | undefined;
    if (plot) await checkOutputFile(plot, "--plot");
    const backend = createNodeBackend();
    try {
      const heads = parseIntFlag(v.heads, "--heads", 1, 1024);
      const opened = await openPipeline(backend, {
        base: basePath,
        refiner: v.forward ? undefined : refinerPath,
        heads,
        images: false,
        providers: ["cpu"],
        keepSessions: 4, // plans' blocks, Heun's blocks, per-call sessions (reference, --solvers)
      });
      const { pipeline } = opened;
      // no --cfg: the model's recommended scale (metadata "flowturbo.sampling"), else 1
      const cfg = v.cfg === undefined ? (pipeline.defaults.cfg ?? 1) : Number(v.cfg);
      const c = pipeline.config;
      const shape = pipeline.sampleShape;
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
      const labels = Array.from(labelsForSamples(seed, 0, n, c.numClasses)); // as `sample` without --class
      const request = (method: SamplingMethod): GenerateParams => ({
        method,
        labels,
        cfg,
        seed,
        batch,
        compile: compileFor(method),
        decode: false,
      });

      if (v.forward) {
        const session = (await pipeline.sessions(request(parsePlanMethod("H1")))).base!;
        const rows = [];
        for (const b of batchSizes) {
          const feeds = {
            x: new Tensor("float32", [b, ...shape], initialNoise(seed, 0, b, shape)),
            t: Tensor.from("float32", [b], new Array(b).fill(0.5)),
            y: Tensor.from("int64", [b], new Array(b).fill(0)),
          };
          const ms = await time(() => session.run(feeds));
          rows.push({ batch: b, msPerForward: ms, msPerImage: ms / b });
        }
        await opened.release();
        if (ctx.json)
          ctx.stdout.write(
            `${JSON.stringify({ model: opened.file, provider: session.provider, repeats, forward: rows })}\n`,
          );
        else
          for (const r of rows)
            ctx.stdout.write(
              `batch ${r.batch}: ${r.msPerForward.toFixed(1)} ms/forward, ${r.msPerImage.toFixed(1)} ms/image\n`,
            );
        return EXIT.ok;
      }

      for (const m of methods) refuseProblems(pipeline.check(request(m.method)));
      const run = async (method: SamplingMethod) => pipeline.generate(request(method));
      const refRun = await run(reference);
      const ref = refRun.latents.data as Float32Array;
      const calls = Math.ceil(n / batch); // batches per run: NFE is reported per sample
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
          nfe: { base: last.nfe.base / calls, refiner: last.nfe.refiner / calls },
          error: relativeL2(last.latents.data as Float32Array, ref),
        });
      }
      await opened.release();
      const ratios = accelerationRatios(rows);
      if (plot) {
        await mkdir(dirname(plot), { recursive: true });
        const svg = errorLatencySvg(rows, `${opened.file}: error vs latency (batch ${batch}, cfg ${cfg})`);
        await writeFileStreaming(plot, [new TextEncoder().encode(svg)]);
      }
      const report = {
        model: opened.file,
        provider: refRun.provider,
        n,
        batch,
        repeats,
        cfg,
        compile: level,
        reference: { solver: "dopri5", rtol, nfe: refRun.nfe.base / calls },
        rows,
        acceleration: ratios,
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        ctx.stdout.write(
          `${"method".padEnd(12)} ${"ms/image".padStart(10)} ${"NFE".padStart(8)} ${"rel. error".padStart(11)}\n`,
        );
        for (const r of rows) {
          const nfe = r.nfe.refiner ? `${r.nfe.base}+${r.nfe.refiner}R` : `${r.nfe.base}`;
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
        if (plot) ctx.stdout.write(`wrote ${plot}\n`);
      }
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
};
