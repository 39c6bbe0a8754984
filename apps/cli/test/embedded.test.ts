import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { embeddedModel } from "../src/embedded";
import { cli } from "./run";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-embedded-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the embedded default model", () => {
  test("is found in the repository, or in FLOWTURBO_MODEL_DIR first", async () => {
    const found = embeddedModel({});
    expect(found?.base).toMatch(/models[/\\]emoji[/\\]base\.safetensors$/);
    expect(found?.refiner).toMatch(/refiner\.safetensors$/);
    await copyFile(found!.base, join(dir, "base.safetensors"));
    expect(embeddedModel({ FLOWTURBO_MODEL_DIR: dir })).toEqual({
      dir,
      base: join(dir, "base.safetensors"),
      refiner: undefined,
    });
  });

  test("`sample` with no model arguments draws emoji with FlowTurbo into a PNG grid", async () => {
    const png = join(dir, "emoji.png");
    const r = await cli("sample", "--n", "4", "-o", png, "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    const summary = JSON.parse(r.out);
    expect(summary.method).toEqual({ plan: "H1P5R3" });
    expect(summary.nfe).toEqual({ base: 7, refiner: 6 });
    const bytes = new Uint8Array(await readFile(png));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    // 4 images of 32x32 in a 2x2 grid with 2-pixel padding
    expect([view.getUint32(16), view.getUint32(20)]).toEqual([70, 70]);
  });

  test("classes by name (case-insensitive); unknown names list the model's classes", async () => {
    const a = join(dir, "a.safetensors");
    const byName = await cli(
      "sample",
      "--n",
      "2",
      "--class",
      "FLAGS,faces",
      "--plan",
      "H2",
      "--latents-out",
      a,
      "--json",
    );
    expect(byName.code, byName.err).toBe(EXIT.ok);
    const b = join(dir, "b.safetensors");
    const byId = await cli("sample", "--n", "2", "--class", "23,0", "--plan", "H2", "--latents-out", b);
    expect(byId.code).toBe(EXIT.ok);
    expect(await readFile(a)).toEqual(await readFile(b));
    const bad = await cli("sample", "--class", "dogs", "--plan", "H2", "--latents-out", b);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/--class: 'dogs' is not a class id in 0..23 or one of: faces, hearts & emotion/);
  });
});
