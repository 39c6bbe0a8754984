// A model's recommended CFG ("flowturbo.sampling" metadata) is the default of sample and bench; --cfg wins.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSafetensors, safetensorsChunks } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { embeddedModel } from "../src/embedded";
import { cli } from "./run";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-defaults-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The embedded base model with its "flowturbo.sampling" metadata replaced (or removed: undefined). */
async function withSampling(name: string, sampling: string | undefined): Promise<string> {
  const src = embeddedModel({})!.base;
  const { tensors, metadata } = await readSafetensors(new Uint8Array(await readFile(src)), { name: src });
  const meta: Record<string, string> = { ...(metadata ?? {}) };
  delete meta["flowturbo.sampling"];
  if (sampling !== undefined) meta["flowturbo.sampling"] = sampling;
  const path = join(dir, name);
  await writeFileStreaming(path, safetensorsChunks(tensors, { metadata: meta }));
  return path;
}

describe("recommended sampling settings in the model file", () => {
  test("sample and bench default to the recorded CFG; --cfg wins; a model without one samples at 1", async () => {
    const base = await withSampling("cfg2.safetensors", JSON.stringify({ cfg: 2 }));
    const run = async (...extra: string[]) => {
      const r = await cli(
        "sample",
        "--base",
        base,
        "--plan",
        "H2",
        "--n",
        "2",
        "--no-decode",
        "--latents-out",
        join(dir, "x.safetensors"),
        "--json",
        ...extra,
      );
      expect(r.code, r.err).toBe(EXIT.ok);
      return JSON.parse(r.out).cfg;
    };
    expect(await run()).toBe(2);
    expect(await run("--cfg", "1")).toBe(1);
    const plain = await withSampling("none.safetensors", undefined);
    const r = await cli(
      "sample",
      "--base",
      plain,
      "--plan",
      "H2",
      "--n",
      "2",
      "--no-decode",
      "--latents-out",
      join(dir, "y.safetensors"),
      "--json",
    );
    expect(JSON.parse(r.out).cfg).toBe(1);
    const b = await cli("bench", "--base", base, "--heun", "1", "--n", "2", "--repeats", "1", "--json");
    expect(b.code, b.err).toBe(EXIT.ok);
    expect(JSON.parse(b.out).cfg).toBe(2);
  }, 300_000);

  test("malformed settings are a usage error naming the key", async () => {
    const bad = await withSampling("bad.safetensors", JSON.stringify({ cfg: "high" }));
    const r = await cli(
      "sample",
      "--base",
      bad,
      "--plan",
      "H2",
      "--n",
      "1",
      "--no-decode",
      "--latents-out",
      join(dir, "z.safetensors"),
    );
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/flowturbo\.sampling'\.cfg must be a number/);
  });
});
