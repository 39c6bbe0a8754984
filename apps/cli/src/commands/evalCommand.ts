// `flowturbo eval fid A B`, `flowturbo eval stats INPUT -o stats.npz` (FlowTurbo's FID convention:
// pytorch-fid's Inception, images as decoded, statistics compared with ADM reference batches' mu/sigma)
// and `flowturbo eval merge RUN_DIR` (a sharded run's FID from its shards' feature moments).
import { createNodeBackend } from "@flowturbo/backend-node";
import { decodeImageFile, listImageFiles } from "@flowturbo/data/node";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { compareStats, formatDistance, InceptionExtractor } from "@flowturbo/metrics";
import {
  evalFid,
  fidReportJson,
  formatFidReport,
  loadInceptionStateDict,
  statsForInput,
  writeStatsFile,
  writeStatsForInput,
} from "@flowturbo/metrics/node";
import { type Command, EXIT, UsageError } from "../cli";
import { checkEvalInput } from "../evalInputs";
import { checkOutputFile, requireFile } from "../files";
import { parseIntFlag } from "../flags";
import { runEmojiEval } from "../emojiEval";
import { assembleSampleNpz, runStats } from "../mergeRun";
import { readRunShards } from "../shards";

/** A folder of PNG/JPEG/WebP files (recursively, sorted) as RGB images for the Inception network. */
async function* folderImages(dir: string) {
  for (const path of await listImageFiles(dir)) {
    const img = await decodeImageFile(path);
    yield { ...img, name: path };
  }
}

async function withExtractor<T>(
  inception: string | undefined,
  needed: boolean,
  batch: number,
  fn: (e?: InceptionExtractor) => Promise<T>,
): Promise<T> {
  if (!needed) return fn(undefined);
  if (!inception) {
    throw new UsageError(
      "--inception FILE is required to compute features of images (pt_inception-2015-12-05-6726825d.pth: see `flowturbo models`)",
    );
  }
  const backend = createNodeBackend();
  const extractor = new InceptionExtractor(
    backend,
    await loadInceptionStateDict(await requireFile(inception, "--inception")),
    { batchSize: batch },
  );
  try {
    return await fn(extractor);
  } finally {
    await extractor.release();
    await backend.close();
  }
}

export const evalCommand: Command = {
  name: "eval",
  summary:
    "FID (or FD-emoji) between folders / sample npz / statistics npz; class agreement; statistics files; merge a sharded run",
  usage:
    "flowturbo eval fid A B [--inception pt_inception.pth | --features emoji [--classifier FILE]] [--json]  |  flowturbo eval stats INPUT -o stats.npz (--inception FILE | --features emoji)  |  flowturbo eval classes INPUT [--labels groups|categories]  |  flowturbo eval merge RUN_DIR [--ref REF] [-o stats.npz] [--npz samples.npz] [--total N]\n" +
    "--features emoji: Frechet distance in the penultimate features of the emoji classifier (models/emoji-classifier;\n" +
    "  FID's Inception is not needed); 'emoji' as an input is the emoji dataset itself; inputs whose images carry\n" +
    "  labels (files <index>_<label>.png, sample npz arr_1) also get their class agreement: the fraction the\n" +
    "  classifier puts in their class (--labels categories for models of the 9 categories)",
  examples: [
    "flowturbo eval fid samples.npz VIRTUAL_imagenet256_labeled.npz --inception pt_inception-2015-12-05-6726825d.pth",
    "flowturbo eval stats my-images/ -o my-stats.npz --inception pt_inception-2015-12-05-6726825d.pth",
    "flowturbo eval fid my-stats.npz VIRTUAL_imagenet256_labeled.npz --json",
    "flowturbo eval merge run/ --ref VIRTUAL_imagenet256_labeled.npz -o run-stats.npz   # FID/sFID of `sample --shard` folders from their moments",
    "flowturbo eval merge run/ --npz samples.npz --total 50000                           # one ADM sample npz from the shards' images",
    "flowturbo eval fid samples/ emoji --features emoji          # FD-emoji of `flowturbo sample -o samples/` against the dataset",
    "flowturbo eval classes samples/                             # class agreement of the embedded model's samples",
  ],
  positionals: 3,
  options: {
    inception: {
      type: "string",
      value: "FILE",
      help: "pytorch-fid's Inception weights (pt_inception-2015-12-05-6726825d.pth), for inputs that are images",
    },
    out: {
      type: "string",
      short: "o",
      value: "FILE.npz",
      help: "stats / merge: write the statistics here (checked before any work)",
    },
    batch: { type: "string", value: "B", help: "images per network call (1..4096)", default: "32" },
    limit: { type: "string", value: "N", help: "use at most N images of each input", default: "all" },
    ref: { type: "string", value: "REF", help: "merge: the reference (statistics npz, ADM batch, folder)" },
    npz: {
      type: "string",
      value: "FILE.npz",
      help: "merge: also assemble the run's images into one ADM sample npz",
    },
    total: { type: "string", value: "N", help: "merge: samples in the run", default: "from the shards" },
    features: {
      type: "string",
      value: "NAME",
      help: "inception (FID) or emoji (FD-emoji, the emoji classifier's features)",
      default: "inception",
    },
    classifier: {
      type: "string",
      value: "FILE",
      help: "--features emoji: the classifier",
      default: "models/emoji-classifier/classifier.safetensors",
    },
    labels: {
      type: "string",
      value: "groups|categories",
      help: "--features emoji: the label space of the inputs' labels",
      default: "the classifier's",
    },
  },
  async run(ctx) {
    const [sub, ...paths] = ctx.positionals;
    const batch = parseIntFlag(ctx.values.batch, "--batch", 1, 4096) ?? 32;
    const limit = parseIntFlag(ctx.values.limit, "--limit");
    const features = (ctx.values.features as string | undefined) ?? "inception";
    if (features !== "inception" && features !== "emoji")
      throw new UsageError(`--features must be inception or emoji, got '${features}'`);
    if (features === "emoji" || sub === "classes") {
      const text = await runEmojiEval(sub ?? "", paths, ctx.values, ctx.json, batch, limit);
      ctx.stdout.write(`${text}\n`);
      return EXIT.ok;
    }
    const inception = ctx.values.inception as string | undefined;
    const opts = { imageFolder: folderImages, limit, batchSize: batch };
    if (sub === "fid") {
      if (paths.length !== 2)
        throw new UsageError("eval fid needs two inputs: A B (folders, sample .npz or statistics .npz)");
      const inputs = [await checkEvalInput(paths[0]), await checkEvalInput(paths[1])];
      const needsFeatures = inputs.some((i) => i?.kind === "folder" || i?.kind === "samples");
      const report = await withExtractor(inception, needsFeatures, batch, (extractor) =>
        evalFid(paths[0], paths[1], { ...opts, extractor }),
      );
      ctx.stdout.write(
        ctx.json ? `${JSON.stringify(fidReportJson(report))}\n` : `${formatFidReport(report)}\n`,
      );
      return EXIT.ok;
    }
    if (sub === "stats") {
      const out = ctx.values.out as string | undefined;
      if (paths.length !== 1 || !out) throw new UsageError("eval stats needs one input and -o stats.npz");
      const input = await checkEvalInput(paths[0]);
      if (input?.kind === "stats" || input?.kind === "reference")
        throw new UsageError(`${paths[0]}: already holds statistics (mu, sigma)`);
      await checkOutputFile(out, "-o");
      await mkdir(dirname(out), { recursive: true });
      const r = await withExtractor(inception, true, batch, (extractor) =>
        writeStatsForInput(paths[0], out, { ...opts, extractor }),
      );
      ctx.stdout.write(
        ctx.json
          ? `${JSON.stringify({ out, bytes: r.bytes, meta: r.meta })}\n`
          : `wrote ${out} (${r.bytes} bytes)\n`,
      );
      return EXIT.ok;
    }
    if (sub === "merge") {
      if (paths.length !== 1)
        throw new UsageError("eval merge needs one input: the -o folder of a sharded sample run");
      const out = ctx.values.out as string | undefined;
      const ref = ctx.values.ref as string | undefined;
      const npz = ctx.values.npz as string | undefined;
      for (const [file, flag] of [
        [out, "-o"],
        [npz, "--npz"],
      ])
        if (file) await checkOutputFile(file, flag as string);
      const run = await readRunShards(paths[0], parseIntFlag(ctx.values.total, "--total"));
      const hasMoments = run.shards.some((s) => s.manifest.moments);
      if ((out || ref) && !hasMoments)
        throw new UsageError(
          `${paths[0]}: the shards have no feature moments (sample them with --inception FILE)`,
        );
      const refInput = ref ? await checkEvalInput(ref) : undefined;
      const stats = hasMoments ? await runStats(run) : undefined;
      if (out) {
        await mkdir(dirname(out), { recursive: true });
        await writeStatsFile(out, stats!);
      }
      let comparison: ReturnType<typeof compareStats> | undefined;
      if (ref) {
        const needsFeatures = refInput?.kind === "folder" || refInput?.kind === "samples";
        const refStats = await withExtractor(inception, needsFeatures, batch, (extractor) =>
          statsForInput(ref, { ...opts, extractor }),
        );
        comparison = compareStats(stats!, refStats.stats);
      }
      const npzBytes = npz ? await assembleSampleNpz(run, npz) : undefined;
      const report = {
        run: run.root,
        total: run.total,
        shards: run.shards.length,
        incomplete: run.incomplete,
        n: stats?.meta?.n ?? null,
        fid: comparison?.fid.value ?? null,
        sfid: comparison?.sfid?.value ?? null,
        ref: ref ?? null,
        stats: out ?? null,
        npz: npz ?? null,
        npzBytes: npzBytes ?? null,
        notes: comparison?.notes ?? [],
      };
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        const lines = [
          `${run.root}: ${run.total} samples in ${run.shards.length} shards${run.incomplete.length ? ` (${run.incomplete.length} interrupted .tmp folders ignored)` : ""}`,
        ];
        if (comparison)
          lines.push(
            `FID ${formatDistance(comparison.fid.value)}${comparison.sfid ? `, sFID ${formatDistance(comparison.sfid.value)}` : ""} against ${ref}`,
            ...comparison.notes.map((n) => `note: ${n}`),
          );
        for (const f of [out, npz]) if (f) lines.push(`wrote ${f}`);
        ctx.stdout.write(`${lines.join("\n")}\n`);
      }
      return EXIT.ok;
    }
    throw new UsageError(
      `unknown eval subcommand '${sub ?? ""}': use 'eval fid A B', 'eval stats INPUT -o stats.npz' or 'eval merge RUN_DIR'`,
    );
  },
};
