// train-classifier (a tiny classifier, a few steps) and FD-emoji / class agreement through `flowturbo eval`:
// folders written by `sample`, the built-in "emoji" reference, statistics files.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadEmojiClassifier, readEmojiStats, readStatsFile } from "@flowturbo/metrics/node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { embeddedClassifier } from "../src/emojiEval";
import { cli } from "./run";

// 8 and 16 channels at 32 and 16 pixels: a few ms per image
const TINY = ["--widths", "8,16", "--blocks", "1,1", "--batch", "8"];

let dir: string;
let classifier: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-emoji-eval-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("flowturbo train-classifier", () => {
  test("trains on the groups minus held-out emoji, records the held-out accuracy, resumes", async () => {
    const out = join(dir, "cls");
    const r = await cli(
      "train-classifier",
      "--out",
      out,
      "--steps",
      "3",
      ...TINY,
      "--threads",
      "1",
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    expect(summary.images.train + summary.images.heldOut).toBe(7562);
    expect(summary.images.heldOut).toBeGreaterThan(700); // 15% of the emoji, with their variants
    expect(summary.heldOut.accuracy).toBeGreaterThanOrEqual(0);
    expect(summary.config).toMatchObject({ widths: [8, 16], blocks: [1, 1], numClasses: 24 });
    expect(r.err).toMatch(/held-out accuracy \(\d+ images of unseen emoji\)/);
    classifier = join(out, "ema.safetensors");
    const model = await loadEmojiClassifier(classifier);
    expect(model.classNames[0]).toBe("faces");
    expect(model.classNames).toHaveLength(24);
    expect(JSON.parse(model.metadata!.heldOut)).toMatchObject({
      fraction: 0.15,
      images: summary.images.heldOut,
    });
    const changed = await cli("train-classifier", "--out", out, "--steps", "4", "--lr", "1e-2", "--resume");
    expect(changed.code).toBe(EXIT.usage);
    expect(changed.err).toMatch(/lr 0.01 differs from the checkpoint's 0.002/);
    const more = await cli("train-classifier", "--out", out, "--steps", "4", "--resume", "--json");
    expect(more.code, more.err).toBe(EXIT.ok);
    expect(JSON.parse(more.out)).toMatchObject({ steps: 4, startStep: 3 });
    const bad = await cli(
      "train-classifier",
      "--out",
      join(dir, "x"),
      "--steps",
      "2",
      "--data",
      "emoji:sizes",
    );
    expect(bad.code).toBe(EXIT.usage);
  }, 300_000);
});

describe("flowturbo eval --features emoji, eval classes", () => {
  test("FD-emoji of sample folders against the dataset, class agreement from the file names", async () => {
    expect(classifier).toBeDefined();
    const a = join(dir, "a");
    const s = await cli("sample", "--n", "6", "--plan", "H2", "--class", "0,8", "-o", `${a}/`);
    expect(s.code, s.err).toBe(EXIT.ok);
    // the embedded model's classes are the 24 groups (the classifier's own label space)
    // FD-emoji of the folder against a built-in reference (its first 40 images)
    const fdAgainst = (ref: string) =>
      cli(
        "eval",
        "fid",
        a,
        ref,
        "--features",
        "emoji",
        "--classifier",
        classifier,
        "--limit",
        "40",
        "--json",
      );
    const fd = await fdAgainst("emoji");
    expect(fd.code, fd.err).toBe(EXIT.ok);
    const report = JSON.parse(fd.out);
    expect(report.features).toBe("emoji");
    expect(report.fd).toBeGreaterThan(0);
    expect(report.a).toMatchObject({ kind: "folder", n: 6 });
    expect(report.a.classAgreement.n).toBe(6);
    expect(report.a.classAgreement.perClass[0]).toMatchObject({ class: "faces", n: 3 });
    expect(report.b).toMatchObject({ path: "emoji", kind: "builtin", n: 40 });
    expect(report.classifier.sha256).toMatch(/^[0-9a-f]{64}$/);

    // the other built-in references: balanced over the categories, or the raw dataset
    for (const ref of ["emoji:categories", "emoji:raw"]) {
      const r = await fdAgainst(ref);
      expect(r.code, r.err).toBe(EXIT.ok);
      expect(JSON.parse(r.out).b).toMatchObject({ path: ref, kind: "builtin" });
    }
    // the same file names read as labels of a model of the 9 categories (0 Smileys & Emotion, 8 Flags):
    // agreement through the group -> category map
    const classes = await cli("eval", "classes", a, "--classifier", classifier, "--labels", "categories");
    expect(classes.code, classes.err).toBe(EXIT.ok);
    expect(classes.out).toMatch(/% of 6 samples in their class/);
    expect(classes.out).toMatch(/Flags +\d+% of 3/);

    // statistics files: the same distance from a stats file as from the folder
    const stats = join(dir, "a-stats.npz");
    const w = await cli("eval", "stats", a, "-o", stats, "--features", "emoji", "--classifier", classifier);
    expect(w.code, w.err).toBe(EXIT.ok);
    expect((await readStatsFile(stats)).meta?.convention.network).toBe("emoji-classifier");
    const again = await cli(
      "eval",
      "fid",
      stats,
      "emoji",
      "--features",
      "emoji",
      "--classifier",
      classifier,
      "--limit",
      "40",
      "--json",
    );
    expect(JSON.parse(again.out).fd).toBeCloseTo(report.fd, 9);
    // FID statistics cannot be compared with FD-emoji ones
    const inception = await cli("eval", "fid", stats, stats, "--json");
    expect(inception.code).toBe(EXIT.ok); // the same convention on both sides
    const noLabels = await cli("eval", "classes", stats, "--classifier", classifier);
    expect(noLabels.code).toBe(EXIT.usage);
  }, 300_000);

  test("the shipped classifier and its dataset statistics (the reference 'emoji') belong together", async () => {
    const path = embeddedClassifier({})!;
    expect(path).toMatch(/models[/\\]emoji-classifier[/\\]classifier\.safetensors$/);
    const model = await loadEmojiClassifier(path);
    expect(model.config).toMatchObject({ inputSize: 32, numClasses: 24 });
    const stats = await readEmojiStats(join(dirname(path), "emoji-stats.npz"), model);
    expect(stats.meta?.n).toBe(7562);
    expect(stats.meta?.source).toMatch(/24 groups weighted equally/);
    const categories = await readEmojiStats(join(dirname(path), "emoji-categories-stats.npz"), model);
    expect(categories.meta?.source).toMatch(/9 categories weighted equally/);
    // the dataset against its own statistics: FD 0, the shipped file used as is
    const r = await cli(
      "eval",
      "fid",
      join(dirname(path), "emoji-stats.npz"),
      "emoji",
      "--features",
      "emoji",
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toMatchObject({ b: { kind: "builtin", n: 7562 } });
    expect(JSON.parse(r.out).fd).toBeCloseTo(0, 9);
  });

  test("usage errors name what is missing", async () => {
    expect((await cli("eval", "fid", "emoji", "--features", "emoji")).err).toMatch(/needs two inputs/);
    expect((await cli("eval", "fid", "a", "b", "--features", "clip")).err).toMatch(/--features must be/);
    const missing = await cli(
      "eval",
      "classes",
      join(dir, "nope"),
      "--classifier",
      join(dir, "nope.safetensors"),
    );
    expect(missing.code).toBe(EXIT.usage);
    // a folder without the file is skipped (the repository's models/emoji-classifier is found, once shipped)
    expect(embeddedClassifier({ FLOWTURBO_CLASSIFIER_DIR: dir }) ?? "").not.toContain(dir);
  });
});
