// train-base / train-refiner --init: warm starts from a trained model (the embedded emoji model), the
// 9 categories mapped onto the 24 groups; the refiner takes its teacher's emoji labelling by default.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { readTrainCheckpointFile } from "@flowturbo/sit/node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { embeddedModel } from "../src/embedded";
import { cli } from "./run";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-warm-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("--init (warm start)", () => {
  test("train-base from the embedded model on the emoji groups; the refiner follows its teacher's labels", async () => {
    const { base, refiner } = embeddedModel({})!;
    const out = join(dir, "base");
    const r = await cli(
      "train-base",
      "--out",
      out,
      "--steps",
      "1",
      "--data",
      "emoji:groups",
      "--init",
      base,
      "--threads",
      "1",
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    expect(summary.config.numClasses).toBe(24);
    // a warm start begins at the trained model's loss, not at a fresh model's (~1.2)
    expect(summary.loss).toBeLessThan(0.6);
    const recipe = JSON.parse(
      (await readTrainCheckpointFile(join(out, "checkpoint.safetensors"))).metadata.recipe,
    );
    // recorded relative to the run's folder (a resume works from any working directory)
    expect(recipe).toMatchObject({ init: relative(out, base), data: "emoji:groups" });
    expect(recipe.initSha256).toMatch(/^[0-9a-f]{64}$/);
    const ref = join(dir, "refiner");
    const rr = await cli(
      "train-refiner",
      "--teacher",
      join(out, "ema.safetensors"),
      "--init",
      refiner!,
      "--out",
      ref,
      "--steps",
      "1",
      "--threads",
      "1",
      "--json",
    );
    expect(rr.code, rr.err).toBe(EXIT.ok);
    expect(JSON.parse(rr.out).data).toBe("emoji:groups");
  }, 300_000);

  test("a model that does not fit is a usage error", async () => {
    const { base } = embeddedModel({})!;
    const r = await cli(
      "train-base",
      "--out",
      join(dir, "wide"),
      "--steps",
      "1",
      "--hidden",
      "64",
      "--init",
      base,
    );
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(
      /--init .*width 128, patch 4, heads 2, depth 5 do not fit the new model \(width 64/,
    );
  });
});
