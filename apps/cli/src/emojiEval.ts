// FD-emoji and class agreement for `flowturbo eval`: the shipped emoji classifier (models/emoji-classifier,
// found like the embedded model, or --classifier FILE), the built-in reference "emoji" (the dataset's
// statistics: the file shipped beside the classifier when it was computed with these weights, else
// computed from the dataset) and the per-side evaluation.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createNodeBackend } from "@flowturbo/backend-node";
import {
  EMOJI_CATEGORIES,
  EMOJI_GROUP_CATEGORY,
  EMOJI_GROUP_NAMES,
  type EmojiDataset,
} from "@flowturbo/data";
import {
  decodeImageFile,
  listImageFiles,
  loadEmojiDataset,
  loadEmojiGroupLabels,
} from "@flowturbo/data/node";
import {
  type EmojiClassifierModel,
  EmojiFeatureExtractor,
  type LabelledBatch,
  uint8Batches,
} from "@flowturbo/metrics";
import {
  type EmojiInput,
  emojiStatsForInput,
  loadEmojiClassifier,
  readEmojiStats,
  readStatsFile,
  writeStatsFile,
} from "@flowturbo/metrics/node";
import { compareStats, formatDistance, type StatsFile } from "@flowturbo/metrics";
import { UsageError } from "./cli";
import { checkEvalInput } from "./evalInputs";
import { checkOutputFile, requireFile } from "./files";

export const CLASSIFIER_SUBDIR = join("models", "emoji-classifier");
export const CLASSIFIER_FILE = "classifier.safetensors";
/** The dataset's FD-emoji statistics beside the classifier (`flowturbo eval stats emoji --features emoji`). */
export const EMOJI_STATS_FILE = "emoji-stats.npz";
/** The built-in reference set of `eval fid --features emoji`: the emoji dataset itself. */
export const EMOJI_REFERENCE = "emoji";

/** models/emoji-classifier/classifier.safetensors, found by walking up from this file (or FLOWTURBO_CLASSIFIER_DIR). */
export function embeddedClassifier(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs: string[] = [];
  if (env.FLOWTURBO_CLASSIFIER_DIR) dirs.push(env.FLOWTURBO_CLASSIFIER_DIR);
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    dirs.push(join(d, CLASSIFIER_SUBDIR));
    if (dirname(d) === d) break;
  }
  return dirs.map((d) => join(d, CLASSIFIER_FILE)).find((f) => existsSync(f));
}

/** --classifier FILE or the shipped one. */
export async function openClassifier(flag: unknown): Promise<{ path: string; model: EmojiClassifierModel }> {
  const path = flag === undefined ? embeddedClassifier() : await requireFile(String(flag), "--classifier");
  if (!path)
    throw new UsageError(
      "the emoji classifier (models/emoji-classifier/classifier.safetensors) was not found: pass --classifier FILE",
    );
  try {
    return { path, model: await loadEmojiClassifier(path) };
  } catch (e) {
    throw new UsageError(`--classifier: ${(e as Error).message}`);
  }
}

/** The dataset's labels in the classifier's class space (groups or categories, by the class count). */
async function datasetLabels(ds: EmojiDataset, model: EmojiClassifierModel): Promise<Uint8Array> {
  if (model.config.numClasses === EMOJI_GROUP_NAMES.length) return loadEmojiGroupLabels(ds);
  if (model.config.numClasses === EMOJI_CATEGORIES.length) return ds.labels;
  throw new UsageError(
    `the classifier has ${model.config.numClasses} classes: not the emoji groups or categories`,
  );
}

/** The emoji dataset as labelled batches (every image, in dataset order). */
export async function emojiDatasetBatches(
  model: EmojiClassifierModel,
  batchSize: number,
  indices?: ArrayLike<number>,
): Promise<Iterable<LabelledBatch>> {
  const ds = await loadEmojiDataset();
  const labels = await datasetLabels(ds, model);
  return uint8Batches(
    ds.images.data as Uint8Array,
    ds.length,
    ds.images.shape[1],
    batchSize,
    labels,
    indices,
  );
}

/** A folder's images with their file names (labels come from `<index>_<label>.png`). */
async function* folderImages(dir: string) {
  for (const path of await listImageFiles(dir)) yield { ...(await decodeImageFile(path)), name: path };
}

/**
 * How sample labels relate to the classifier's classes: "groups" (the same classes) or "categories"
 * (models conditioned on the 9 categories; a predicted group counts as its category).
 */
export function labelSpace(
  value: unknown,
  model: EmojiClassifierModel,
): { numLabels: number; toLabel?: number[] } {
  const space = (value as string | undefined) ?? "classifier";
  if (space === "classifier" || space === "groups") return { numLabels: model.config.numClasses };
  if (space === "categories") {
    if (model.config.numClasses !== EMOJI_GROUP_NAMES.length)
      throw new UsageError("--labels categories needs a classifier of the 24 emoji groups");
    return { numLabels: EMOJI_CATEGORIES.length, toLabel: [...EMOJI_GROUP_CATEGORY] };
  }
  throw new UsageError(`--labels must be groups or categories, got '${space}'`);
}

/** Runs `fn` with an extractor of the classifier (closed afterwards). */
export async function withEmojiExtractor<T>(
  model: EmojiClassifierModel,
  batch: number,
  fn: (e: EmojiFeatureExtractor) => Promise<T>,
): Promise<T> {
  const backend = createNodeBackend();
  const extractor = new EmojiFeatureExtractor(backend, model, { batchSize: batch });
  try {
    return await fn(extractor);
  } finally {
    await extractor.release();
    await backend.close();
  }
}

/** FD-emoji statistics (and agreement) of one `eval` argument, "emoji" being the dataset. */
export async function emojiSide(
  path: string,
  o: { extractor: EmojiFeatureExtractor; classifierPath: string; limit?: number; labels?: unknown },
): Promise<EmojiInput> {
  const model = o.extractor.model;
  const space = labelSpace(o.labels, model);
  return emojiStatsForInput(path, {
    extractor: o.extractor,
    imageFolder: folderImages,
    limit: o.limit,
    ...space,
    builtins: {
      [EMOJI_REFERENCE]: async (): Promise<StatsFile | Iterable<LabelledBatch>> => {
        const shipped = join(dirname(o.classifierPath), EMOJI_STATS_FILE);
        if (o.limit === undefined && existsSync(shipped)) {
          try {
            return await readEmojiStats(shipped, model);
          } catch {
            // statistics of other weights: compute them from the dataset
          }
        }
        return emojiDatasetBatches(model, o.extractor.batchSize);
      },
    },
  });
}

function agreementJson(a: EmojiInput["result"]["agreement"], names?: readonly string[]) {
  if (!a) return null;
  return {
    rate: a.rate,
    n: a.n,
    agree: a.agree,
    perClass: a.perClass.map((c, k) => ({
      class: names?.[k] ?? k,
      n: c.n,
      rate: c.n ? c.agree / c.n : null,
    })),
  };
}

/** Names of the label space (group or category names) for per-class reports. */
function labelNames(value: unknown, model: EmojiClassifierModel): readonly string[] {
  return (value as string | undefined) === "categories" ? EMOJI_CATEGORIES : model.classNames;
}

/**
 * `eval fid A B --features emoji`, `eval stats INPUT --features emoji -o FILE` and `eval classes INPUT`.
 * Returns the text or JSON to print.
 */
export async function runEmojiEval(
  sub: string,
  paths: readonly string[],
  values: Record<string, unknown>,
  json: boolean,
  batch: number,
  limit: number | undefined,
): Promise<string> {
  const need = { fid: 2, classes: 1, stats: 1 }[sub];
  if (need === undefined) throw new UsageError(`eval ${sub} does not take --features emoji`);
  if (paths.length !== need || (sub === "stats" && !values.out))
    throw new UsageError(
      {
        fid: "eval fid needs two inputs: A B (folders, sample .npz, statistics .npz or 'emoji')",
        classes: "eval classes needs one input (a folder or sample .npz with labels)",
        stats: "eval stats needs one input and -o stats.npz",
      }[sub as "fid"],
    );
  // every input and output checked before the classifier runs
  for (const p of paths) {
    const input = await checkEvalInput(p, [EMOJI_REFERENCE]);
    if (input?.kind === "stats" || input?.kind === "reference") {
      const network = (await readStatsFile(p)).meta?.convention.network;
      if (network !== "emoji-classifier")
        throw new UsageError(`${p}: not FD-emoji statistics (features: ${network ?? "not recorded"})`);
    }
  }
  if (sub === "stats") await checkOutputFile(String(values.out), "-o");
  const { path: classifierPath, model } = await openClassifier(values.classifier);
  const names = labelNames(values.labels, model);
  const side = (e: EmojiFeatureExtractor, p: string) =>
    emojiSide(p, { extractor: e, classifierPath, limit, labels: values.labels });
  const sideJson = (s: EmojiInput) => ({
    path: s.path,
    kind: s.kind,
    n: s.result.n,
    classAgreement: agreementJson(s.result.agreement, names),
  });
  const classifier = { file: classifierPath, sha256: model.sha256 };
  if (sub === "fid") {
    const t0 = performance.now();
    const [a, b] = await withEmojiExtractor(model, batch, async (e) => [
      await side(e, paths[0]),
      await side(e, paths[1]),
    ]);
    let cmp: ReturnType<typeof compareStats>;
    try {
      cmp = compareStats(a.result.stats, b.result.stats);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const report = {
      features: "emoji",
      fd: cmp.fid.value,
      classifier,
      a: sideJson(a),
      b: sideJson(b),
      notes: cmp.notes,
      seconds: (performance.now() - t0) / 1000,
    };
    if (json) return JSON.stringify(report);
    const lines = [
      `A         ${a.path} (${a.kind}, n=${a.result.n})`,
      `B         ${b.path} (${b.kind}, n=${b.result.n})`,
      `FD-emoji  ${formatDistance(cmp.fid.value)}`,
    ];
    for (const [label, s] of [
      ["A", a],
      ["B", b],
    ] as const)
      if (s.result.agreement)
        lines.push(
          `classes   ${label}: ${(100 * s.result.agreement.rate).toFixed(1)}% of ${s.result.agreement.n} in their class`,
        );
    lines.push(`time      ${report.seconds.toFixed(1)} s`);
    for (const n of cmp.notes) lines.push(`note: ${n}`);
    return lines.join("\n");
  }
  if (sub === "classes") {
    const s = await withEmojiExtractor(model, batch, (e) => side(e, paths[0]));
    if (!s.result.agreement)
      throw new UsageError(
        `${paths[0]}: no labels (name files <index>_<label>.png, as flowturbo sample -o DIR does, or use a sample npz with arr_1)`,
      );
    const a = s.result.agreement;
    if (json) return JSON.stringify({ classifier, ...sideJson(s) });
    const lines = [`${paths[0]}: ${(100 * a.rate).toFixed(1)}% of ${a.n} samples in their class`];
    a.perClass.forEach((c, k) => {
      if (c.n)
        lines.push(
          `  ${String(names[k] ?? k).padEnd(22)} ${(100 * (c.agree / c.n)).toFixed(0).padStart(3)}% of ${c.n}`,
        );
    });
    return lines.join("\n");
  }
  if (sub === "stats") {
    const out = String(values.out);
    const s = await withEmojiExtractor(model, batch, (e) => side(e, paths[0]));
    if (s.kind === "stats") throw new UsageError(`${paths[0]}: already holds statistics (mu, sigma)`);
    await mkdir(dirname(out), { recursive: true });
    const bytes = await writeStatsFile(out, s.result.stats);
    return json
      ? JSON.stringify({
          out,
          bytes,
          meta: s.result.stats.meta,
          classAgreement: agreementJson(s.result.agreement, names),
        })
      : `wrote ${out} (${bytes} bytes, ${s.result.n} images)`;
  }
  throw new UsageError(`eval ${sub} does not take --features emoji`);
}
