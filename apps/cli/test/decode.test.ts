import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSafetensors, readSafetensors, Tensor } from "@flowturbo/tensor";
import { goldenPath, goldenVaeFolder } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

let dir: string;
let vae: string; // the golden tiny VAE as a diffusers folder
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-decode-"));
  vae = await goldenVaeFolder(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("flowturbo decode", () => {
  test("decodes sample's latents to the same images sample writes", async () => {
    const latents = join(dir, "lat.safetensors");
    const direct = join(dir, "direct.npz");
    const base = [
      "sample",
      "--base",
      goldenPath("sit/sit.pt"),
      "--heads",
      "4",
      "--plan",
      "H2",
      "--n",
      "2",
      "--seed",
      "4",
    ];
    expect((await cli(...base, "--vae", vae, "-o", direct, "--latents-out", latents)).code).toBe(EXIT.ok);
    const viaDecode = join(dir, "decoded.npz");
    const raw = join(dir, "raw.safetensors");
    const r = await cli("decode", latents, "--vae", vae, "-o", viaDecode, "--raw-out", raw, "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    const { readNpzFile } = await import("@flowturbo/tensor/node");
    const a = (await readNpzFile(direct)).get("arr_0")!;
    const b = (await readNpzFile(viaDecode)).get("arr_0")!;
    expect(b.shape).toEqual([2, 16, 16, 3]);
    expect(b.data).toEqual(a.data);
    const images = (await readSafetensors(new Uint8Array(await readFile(raw)))).tensors.get("images")!;
    expect(images.shape).toEqual([2, 3, 16, 16]);
  });

  test("errors name the file and what was expected", async () => {
    const bad = join(dir, "bad.safetensors");
    await writeFile(bad, encodeSafetensors(new Map([["z", Tensor.zeros("float32", [1, 4, 8, 8])]])));
    const r = await cli("decode", bad, "--vae", vae, "-o", join(dir, "x.png"));
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/bad.safetensors: no tensor named 'latents' \(found z\)/);
    expect((await cli("decode", bad, "-o", join(dir, "x.png"))).err).toMatch(/--vae DIR\|FILE is required/);
    const good = join(dir, "good.safetensors");
    await writeFile(good, encodeSafetensors(new Map([["latents", Tensor.zeros("float32", [1, 4, 8, 8])]])));
    expect((await cli("decode", good, "--vae", join(dir, "nope"), "-o", join(dir, "x.png"))).err).toMatch(
      /--vae: file not found/,
    );
  });
});

describe("flowturbo models", () => {
  test("lists every reference file with its source", async () => {
    const r = await cli("models", "--json");
    const list = JSON.parse(r.out) as { name: string; source: string }[];
    expect(list.map((f) => f.name)).toEqual([
      "SiT-XL-2-256x256.pt",
      "SiT-XL-2-Refiner.pt",
      "sd-vae-ft-ema/",
      "pt_inception-2015-12-05-6726825d.pth",
      "VIRTUAL_imagenet256_labeled.npz",
    ]);
    for (const f of list) expect(f.source.length).toBeGreaterThan(10);
  });

  test("verify reports format, kind, architecture, parameters and sha256", async () => {
    const r = await cli("models", "verify", goldenPath("sit/refiner.pt"), "--heads", "4", "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ file: "refiner.pt", format: "pt", kind: "refiner", entry: "model" });
    expect(report.config.depth).toBe(1);
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.parameters).toBeGreaterThan(0);
    const text = await cli("models", "verify", goldenPath("sit/sit.pt"), "--heads", "4");
    expect(text.out).toMatch(
      /sit.pt: pt, sit\n {2}depth 2, width 64, heads 4, patch 2, input 4x8x8, classes 1000/,
    );
    expect((await cli("models", "check", "x")).err).toMatch(/unknown subcommand 'check'/);
  });
});
