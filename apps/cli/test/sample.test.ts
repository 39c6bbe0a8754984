import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSafetensors, labelsForSamples, readSafetensors } from "@flowturbo/tensor";
import { goldenPath, goldenVaeFolder } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-sample-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const read = async (p: string) => (await readSafetensors(new Uint8Array(await readFile(p)))).tensors;

describe("flowturbo sample", () => {
  test("--noise with the golden sampler inputs reproduces the golden outputs", async () => {
    const golden = await read(goldenPath("sit/sampler_H1P2R2_cfg4/case.safetensors"));
    const zPath = join(dir, "z.safetensors");
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(zPath, encodeSafetensors(new Map([["z", golden.get("z")!]]))),
    );
    const labels = Array.from(golden.get("labels")!.toFloat64()).join(",");
    const out = join(dir, "latents.safetensors");
    const r = await cli(
      "sample",
      "--base",
      goldenPath("sit/sit.pt"),
      "--refiner",
      goldenPath("sit/refiner.pt"),
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
    expect(r.err).not.toMatch(/error/i); // stderr carries only progress lines
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
        goldenPath("sit/sit.pt"),
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
    const base = goldenPath("sit/sit.pt");
    const out = join(dir, "x.safetensors");
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--plan", "H1X2", "--latents-out", out)).err,
    ).toMatch(/--plan: .*X/);
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--plan", "fast", "--latents-out", out)).err,
    ).toMatch(/--refiner: plan H1P5R3 has refiner \(R\) steps/);
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--solver", "heun", "--latents-out", out)).err,
    ).toMatch(/--steps: solver heun needs a number of steps/);
    expect(
      (await cli("sample", "--base", base, "--heads", "4", "--solver", "ddim", "--latents-out", out)).err,
    ).toMatch(/--solver: solver must be one of euler, midpoint, heun, rk4, rk4_38, dopri5, sde, got 'ddim'/);
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
      goldenPath("sit/refiner.pt"),
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

describe("flowturbo sample --compile", () => {
  const args = (file: string, ...extra: string[]) => [
    "sample",
    "--base",
    goldenPath("sit/sit.pt"),
    "--refiner",
    goldenPath("sit/refiner.pt"),
    "--heads",
    "4",
    "--plan",
    "H1P2R2",
    "--cfg",
    "4",
    "--n",
    "3",
    "--batch",
    "2",
    "--seed",
    "4",
    "--latents-out",
    join(dir, file),
    "--json",
    ...extra,
  ];
  const lastJson = (out: string) => JSON.parse(out.trim().split("\n").pop()!);

  test("none, model and block give the same samples; block is the default and counts its transfers", async () => {
    const latents: Float64Array[] = [];
    for (const level of ["none", "model", "block", undefined]) {
      const file = `compile-${level ?? "default"}.safetensors`;
      const r = await cli(...args(file, ...(level ? ["--compile", level] : [])));
      expect(r.code, r.err).toBe(EXIT.ok);
      const summary = lastJson(r.out);
      expect(summary.compile).toBe(level ?? "block");
      // per sample, whatever the batches: 2 + 1 + 1 base, 2 x 2 refiner (model calls: twice, 2 batches)
      expect(summary.nfe).toEqual({ base: 4, refiner: 4 });
      if (summary.compile === "block")
        // per batch: the noise up once, the final x down once, no state output on the host
        expect(summary.transfers).toMatchObject({ stateUploads: 2, downloads: 2, hostOutputs: 0 });
      else expect(summary.transfers).toBeNull();
      latents.push((await read(join(dir, file))).get("latents")!.toFloat64());
    }
    for (const l of latents.slice(1)) {
      let d = 0;
      for (let i = 0; i < l.length; i++) d = Math.max(d, Math.abs(l[i] - latents[0][i]));
      expect(d).toBeLessThan(1e-5);
    }
  });

  test("--compile errors, and solvers other than Heun default to model", async () => {
    const bad = await cli(...args("x.safetensors", "--compile", "graph"));
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/--compile must be one of none, model, block, got 'graph'/);
    const base = ["sample", "--base", goldenPath("sit/sit.pt"), "--heads", "4", "--n", "1", "--json"];
    const out = ["--latents-out", join(dir, "s.safetensors")];
    const rk4 = await cli(...base, "--solver", "rk4", "--steps", "2", "--compile", "block", ...out);
    expect(rk4.code).toBe(EXIT.usage);
    expect(rk4.err).toMatch(/--compile: compile "block" runs FlowTurbo plans and Heun, not 'rk4'/);
    const euler = await cli(...base, "--solver", "euler", "--steps", "2", ...out);
    expect(euler.code, euler.err).toBe(EXIT.ok);
    expect(lastJson(euler.out).compile).toBe("model");
    const heun = await cli(...base, "--solver", "heun", "--steps", "2", ...out);
    expect(heun.code, heun.err).toBe(EXIT.ok);
    expect(lastJson(heun.out)).toMatchObject({ compile: "block", nfe: { base: 4, refiner: 0 } });
  });
});

describe("flowturbo sample: images", () => {
  const base = [
    "sample",
    "--base",
    goldenPath("sit/sit.pt"),
    "--heads",
    "4",
    "--plan",
    "H2",
    "--n",
    "3",
    "--seed",
    "1",
  ];
  const pngSize = (b: Uint8Array) => [
    new DataView(b.buffer, b.byteOffset).getUint32(16),
    new DataView(b.buffer, b.byteOffset).getUint32(20),
  ];

  test("decodes through a diffusers VAE folder into a PNG grid, an ADM npz and a PNG folder", async () => {
    const vae = await goldenVaeFolder(dir);
    const grid = join(dir, "grid.png");
    expect((await cli(...base, "--vae", vae, "-o", grid)).code).toBe(EXIT.ok);
    const png = new Uint8Array(await readFile(grid));
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join("")).toBe("PNG");
    // 3 images of 16x16 in a 2x2 grid with torchvision's 2-pixel padding: 2*(16+2)+2 = 38
    expect(pngSize(png)).toEqual([38, 38]);
    const npz = join(dir, "samples.npz");
    const r = await cli(...base, "--vae", vae, "-o", npz, "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    const { readNpzFile } = await import("@flowturbo/tensor/node");
    const arrays = await readNpzFile(npz);
    expect(arrays.get("arr_0")!.shape).toEqual([3, 16, 16, 3]);
    expect(arrays.get("arr_0")!.dtype).toBe("uint8");
    // no --class: the counter-based default labels of samples 0..2 (seed 1, 1000 classes)
    const labels = [...labelsForSamples(1, 0, 3, 1000)];
    expect(labels).toEqual([778, 216, 24]);
    expect([...arrays.get("arr_1")!.toFloat64()]).toEqual(labels);
    const folder = join(dir, "pngs");
    expect((await cli(...base, "--vae", vae, "-o", folder)).code).toBe(EXIT.ok);
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(folder)).sort()).toEqual([
      "000000_778.png",
      "000001_216.png",
      "000002_24.png",
      "flowturbo-samples.json", // written last: the folder is complete
    ]);
  });

  test("a latent model without --vae explains what to pass", async () => {
    const r = await cli(...base, "-o", join(dir, "no.png"));
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/4-channel latents: pass --vae/);
    // no output flag: a PNG grid by default, which a latent model cannot write without --vae either
    expect((await cli(...base)).err).toMatch(/4-channel latents: pass --vae/);
  });
});
