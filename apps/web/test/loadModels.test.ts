// A latent model in the web pipeline: SiT checkpoint (.pt, non-standard width: heads given) and a
// diffusers VAE with its config.json, fetched by URL as the page does; the samples and decoded images
// are those of `flowturbo sample --vae` for the same settings. Bad choices are explained.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { COMMANDS, runCli } from "@flowturbo/cli";
import { quantizeImages, readSafetensors } from "@flowturbo/tensor";
import { readNpzFile } from "@flowturbo/tensor/node";
import { goldenPath, goldenVaeFolder } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FlowTurboPipeline, parseMethod } from "@flowturbo/pipeline";
import { loadModels } from "../src/loadModels";
import { maxAbsDiff, sink } from "./embedded";

/** The server serves fixtures/golden (sit/sit.pt, vae/vae_tiny/config.json, ...). */
const GOLDEN = goldenPath();
const node = createNodeBackend({ threads: 1 });
let server: Server;
let url: string;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const file = normalize(join(GOLDEN, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "content-length": body.byteLength }).end(body);
    } catch {
      res.writeHead(404, "Not Found").end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), "flowturbo-web-latent-"));
});
afterAll(async () => {
  server.close();
  await node.close();
  await rm(dir, { recursive: true, force: true });
});

describe("latent models with a VAE", () => {
  test("the page's pipeline gives flowturbo sample --vae's latents and images", async () => {
    const models = await loadModels(
      node,
      {
        base: { url: `${url}/sit/sit.pt` },
        vae: { url: `${url}/vae/vae_tiny/vae_tiny_legacy_names.safetensors` },
        vaeConfig: { url: `${url}/vae/vae_tiny/config.json` },
        heads: 4,
      },
      ["cpu"],
    );
    expect(models.vae).toBeDefined();
    const gen = await FlowTurboPipeline.open(node, models, { providers: ["cpu"] });
    const g = await gen.generate({
      labels: [5, 5],
      method: parseMethod({ plan: "H2" }),
      cfg: 1,
      seed: 4,
      batch: 2,
      compile: "model",
    });
    await gen.release();
    await models.vae!.release();
    expect(g.latents.shape).toEqual([2, 4, 8, 8]);
    expect(g.images!.shape).toEqual([2, 3, 16, 16]);
    expect(g.timings.decode).toBeGreaterThan(0);

    const latents = join(dir, "latents.safetensors");
    const npz = join(dir, "images.npz");
    const argv = ["sample", "--base", goldenPath("sit/sit.pt"), "--heads", "4", "--plan", "H2", "--n", "2"];
    argv.push("--seed", "4", "--class", "5", "--compile", "model", "--vae", await goldenVaeFolder(dir));
    argv.push("-o", npz, "--latents-out", latents);
    expect(await runCli(argv, COMMANDS, { stdout: sink(), stderr: sink() })).toBe(0);
    const cliLatents = (await readSafetensors(new Uint8Array(await readFile(latents)))).tensors.get(
      "latents",
    )!;
    expect(maxAbsDiff(g.latents.toFloat32(), cliLatents.toFloat32())).toBeLessThan(1e-5);
    // the same uint8 pixels, up to a rounding flip where thread counts change the decoder's sums
    const ours = quantizeImages(g.images!).data as Uint8Array;
    const theirs = (await readNpzFile(npz)).get("arr_0")!.data as Uint8Array;
    expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(1);
  });

  test("a latent model without a VAE, and checkpoints in the wrong slot, are explained", async () => {
    await expect(loadModels(node, { base: { url: `${url}/sit/sit.pt` }, heads: 4 }, ["cpu"])).rejects.toThrow(
      /sit\.pt generates 4-channel latents: give a VAE/,
    );
    await expect(
      loadModels(node, { base: { url: `${url}/sit/refiner.pt` }, heads: 4 }, ["cpu"]),
    ).rejects.toThrow(/base model: refiner\.pt: this is a refiner checkpoint, expected a sit/);
    await expect(loadModels(node, { base: { url: `${url}/sit/sit.pt` } }, ["cpu"])).rejects.toThrow(
      /base model: sit\.pt: hidden size 64 is not a standard SiT width.*heads/,
    );
  });
});
