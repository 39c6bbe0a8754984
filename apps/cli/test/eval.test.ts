import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "@flowturbo/data";
import {
  encodeSafetensors,
  type ProceduralRule,
  proceduralStateDict,
  readSafetensors,
} from "@flowturbo/tensor";
import { saveNpzFile } from "@flowturbo/tensor/node";
import { goldenPath } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { cli } from "./run";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-eval-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("flowturbo eval", () => {
  test("fid between two statistics files equals scipy's value (golden fid_math_512d)", async () => {
    const t = (
      await readSafetensors(
        new Uint8Array(await readFile(goldenPath("metrics/fid_math_512d/case.safetensors"))),
      )
    ).tensors;
    const a = join(dir, "a.npz");
    const b = join(dir, "b.npz");
    await saveNpzFile(
      a,
      new Map([
        ["mu", t.get("mu1")!],
        ["sigma", t.get("sigma1")!],
      ]),
    );
    await saveNpzFile(
      b,
      new Map([
        ["mu", t.get("mu2")!],
        ["sigma", t.get("sigma2")!],
      ]),
    );
    const r = await cli("eval", "fid", a, b, "--json");
    expect(r.code, r.err).toBe(EXIT.ok);
    const fid = JSON.parse(r.out).fid as number;
    const ref = t.get("fid")!.toFloat64()[0];
    expect(Math.abs(fid - ref) / ref).toBeLessThan(1e-6);
  });

  test("folders of images: fid, stats files, and stats-vs-folder agree", async () => {
    // pytorch-fid's Inception on the golden case's procedural weights
    const rules = JSON.parse(await readFile(goldenPath("inception/inception_fid/case.json"), "utf8"))
      .procedural_rules as ProceduralRule[];
    const weights = join(dir, "inception.safetensors");
    await writeFile(weights, encodeSafetensors(proceduralStateDict(rules)));
    const folder = async (name: string, seed: number) => {
      const d = join(dir, name);
      await mkdir(d, { recursive: true });
      for (let i = 0; i < 3; i++) {
        const data = new Uint8Array(32 * 32 * 3).map((_, k) => (k * (7 + seed) + i * 31 + seed * 5) % 256);
        await writeFile(join(d, `${i}.png`), await encodePng({ width: 32, height: 32, data }));
      }
      return d;
    };
    const fa = await folder("fa", 1);
    const fb = await folder("fb", 2);
    const direct = await cli("eval", "fid", fa, fb, "--inception", weights, "--json");
    expect(direct.code, direct.err).toBe(EXIT.ok);
    const fid = JSON.parse(direct.out).fid as number;
    expect(Number.isFinite(fid) && fid > 0).toBe(true);
    const stats = join(dir, "fa.npz");
    expect((await cli("eval", "stats", fa, "-o", stats, "--inception", weights)).code).toBe(EXIT.ok);
    const viaStats = JSON.parse((await cli("eval", "fid", stats, fb, "--inception", weights, "--json")).out)
      .fid as number;
    expect(Math.abs(viaStats - fid)).toBeLessThan(1e-9 * Math.max(1, fid));
  });

  test("errors say what is missing", async () => {
    const d = join(dir, "imgs");
    await mkdir(d, { recursive: true });
    expect((await cli("eval", "fid", d, join(dir, "a.npz"))).err).toMatch(
      /imgs: no images \(.*\) in the folder/,
    );
    await writeFile(join(d, "0.png"), await encodePng({ width: 2, height: 2, data: new Uint8Array(12) }));
    expect((await cli("eval", "fid", d, join(dir, "a.npz"))).err).toMatch(/--inception FILE is required/);
    expect((await cli("eval", "fid", join(dir, "nope.npz"), d)).err).toMatch(
      /nope.npz: no such file or folder/,
    );
    expect((await cli("eval", "fid", d)).err).toMatch(/needs two inputs/);
    expect((await cli("eval", "frechet")).err).toMatch(/unknown eval subcommand 'frechet'/);
  });
});
