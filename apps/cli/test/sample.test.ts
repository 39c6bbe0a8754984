import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSafetensors, readSafetensors } from "@flowturbo/tensor";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

const FIX = join(import.meta.dirname, "fixtures");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-sample-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const read = async (p: string) => (await readSafetensors(new Uint8Array(await readFile(p)))).tensors;

describe("flowturbo sample", () => {
  test("--noise with the golden sampler inputs reproduces the golden outputs", async () => {
    const golden = await read(join(FIX, "sampler_H1P2R2_cfg4/case.safetensors"));
    const zPath = join(dir, "z.safetensors");
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(zPath, encodeSafetensors(new Map([["z", golden.get("z")!]]))),
    );
    const labels = Array.from(golden.get("labels")!.toFloat64()).join(",");
    const out = join(dir, "latents.safetensors");
    const r = await cli(
      "sample",
      "--base",
      join(FIX, "sit.pt"),
      "--refiner",
      join(FIX, "refiner.pt"),
      "--heads",
      "4",
      "--plan",
      "H1P2R2",
      "--cfg",
      "4",
      "--class",
      labels,
      "--n",
      "2",
      "--noise",
      zPath,
      "--latents-out",
      out,
      "--json",
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    expect(summary.nfe).toEqual({ base: 4, refiner: 4 });
    const latents = (await read(out)).get("latents")!.toFloat64();
    const ref = golden.get("out")!.toFloat64().subarray(0, latents.length);
    let num = 0;
    let den = 0;
    for (let i = 0; i < ref.length; i++) {
      num += (latents[i] - ref[i]) ** 2;
      den += ref[i] ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
  });

  test("the same seed gives the same samples whatever the batch size", async () => {
    const run = async (batch: string, file: string) => {
      const r = await cli(
        "sample",
        "--base",
        join(FIX, "sit.pt"),
        "--heads",
        "4",
        "--plan",
        "H2P2",
        "--n",
        "3",
        "--seed",
        "5",
        "--cfg",
        "1.5",
        "--batch",
        batch,
        "--latents-out",
        join(dir, file),
      );
      expect(r.code, r.err).toBe(EXIT.ok);
      return (await read(join(dir, file))).get("latents")!.toFloat64();
    };
    expect(await run("1", "b1.safetensors")).toEqual(await run("3", "b3.safetensors"));
  });

  test("errors name the flag and what was expected", async () => {
    const base = join(FIX, "sit.pt");
    const out = join(dir, "x.safetensors");
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--plan", "H1X2", "--latents-out", out)).err,
    ).toMatch(/--plan: .*X/);
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--plan", "fast", "--latents-out", out)).err,
    ).toMatch(/H1P5R3 has refiner \(R\) steps: pass --refiner/);
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--solver", "heun", "--latents-out", out)).err,
    ).toMatch(/--solver heun needs --steps/);
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--solver", "ddim", "--latents-out", out)).err,
    ).toMatch(/--solver must be one of/);
    expect(
      (
        await cli(
          "sample",
          "--base",
          base,
          "--heads",
          "4",
          "--plan",
          "H2",
          "--class",
          "1000",
          "--latents-out",
          out,
        )
      ).err,
    ).toMatch(/--class: '1000' is not a class id in 0..999/);
    const wrongKind = await cli(
      "sample",
      "--base",
      join(FIX, "refiner.pt"),
      "--heads",
      "4",
      "--plan",
      "H2",
      "--latents-out",
      out,
    );
    expect(wrongKind.code).toBe(EXIT.usage);
    expect(wrongKind.err).toMatch(/--base refiner.pt: this is a refiner checkpoint, expected a sit/);
  });
});
