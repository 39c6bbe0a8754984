import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { goldenPath } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src";
import { accelerationRatios, type BenchRow, errorLatencySvg, median } from "../src/benchReport";
import { cli } from "./run";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-bench-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const row = (method: string, msPerImage: number, error: number): BenchRow => ({
  method,
  kind: method.startsWith("heun") ? "baseline" : "flowturbo",
  batch: 8,
  msPerImage,
  error,
  nfe: { base: 1, refiner: 0 },
});

describe("bench report", () => {
  test("acceleration is measured against the cheapest Heun run at least as accurate", () => {
    const rows = [
      row("heun:4", 40, 0.1),
      row("heun:8", 80, 0.02),
      row("heun:12", 120, 0.01),
      row("H1P5R3", 30, 0.05),
      row("H8P9R5", 50, 0.001),
    ];
    expect(accelerationRatios(rows)).toEqual([
      { plan: "H1P5R3", heun: "heun:8", ratio: 80 / 30 },
      { plan: "H8P9R5", heun: null, ratio: null },
    ]);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const svg = errorLatencySvg(rows, "t<1>");
    // one marker per method (circles for Heun, diamonds for plans) plus one per series in the legend
    expect(svg.match(/<circle /g)?.length).toBe(3 + 1);
    expect(svg.match(/<path d=/g)?.length).toBe(2 + 1);
    for (const r of rows) expect(svg).toContain(`>${r.method}</text>`);
    expect(svg).toContain("t&lt;1&gt;");
    expect(svg).toContain("latency, ms/image (log scale)");
  });
});

describe("flowturbo bench", () => {
  test("plans and Heun baselines from the same noise: JSON report, ratios and a plot", async () => {
    const plot = join(dir, "bench.svg");
    const r = await cli(
      "bench",
      "--base",
      goldenPath("sit/sit.pt"),
      "--refiner",
      goldenPath("sit/refiner.pt"),
      "--heads",
      "4",
      "--plans",
      "H1P2R2,H2P2",
      "--heun",
      "2,4,8",
      "--n",
      "2",
      "--repeats",
      "1",
      "--cfg",
      "1.5",
      "--plot",
      plot,
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    const report = JSON.parse(r.out);
    expect(report.rows.map((x: BenchRow) => x.method)).toEqual([
      "H1P2R2",
      "H2P2",
      "heun:2",
      "heun:4",
      "heun:8",
    ]);
    const heun = report.rows.filter((x: BenchRow) => x.kind === "baseline");
    // Heun converges to the dopri5 reference as steps grow
    expect(heun[2].error).toBeLessThan(heun[0].error);
    expect(report.rows[0].nfe).toEqual({ base: 4, refiner: 4 });
    expect(report.acceleration.map((a: { plan: string }) => a.plan)).toEqual(["H1P2R2", "H2P2"]);
    expect(await readFile(plot, "utf8")).toMatch(/^<svg/);
    const fwd = await cli(
      "bench",
      "--base",
      goldenPath("sit/sit.pt"),
      "--heads",
      "4",
      "--forward",
      "--batches",
      "1,2",
      "--repeats",
      "2",
      "--json",
    );
    expect(JSON.parse(fwd.out).forward.map((f: { batch: number }) => f.batch)).toEqual([1, 2]);
  });
});

describe("flowturbo bench --compile", () => {
  test("every level reports the same errors; block is the default; --forward refuses block", async () => {
    const args = [
      "bench",
      "--base",
      goldenPath("sit/sit.pt"),
      "--refiner",
      goldenPath("sit/refiner.pt"),
      "--heads",
      "4",
      "--plans",
      "H1P2R2",
      "--heun",
      "2",
      "--n",
      "2",
      "--repeats",
      "1",
      "--cfg",
      "1.5",
      "--json",
    ];
    const errors: Record<string, number[]> = {};
    for (const level of ["none", "model", undefined]) {
      const r = await cli(...args, ...(level ? ["--compile", level] : []));
      expect(r.code, r.err).toBe(EXIT.ok);
      const report = JSON.parse(r.out);
      expect(report.compile).toBe(level ?? "block");
      errors[report.compile] = report.rows.map((x: BenchRow) => x.error);
    }
    for (const level of ["none", "block"])
      errors[level].forEach((e, i) => {
        expect(Math.abs(e - errors.model[i])).toBeLessThan(1e-4 * Math.max(errors.model[i], 1e-3));
      });
    const fwd = await cli(
      "bench",
      "--base",
      goldenPath("sit/sit.pt"),
      "--heads",
      "4",
      "--forward",
      "--compile",
      "block",
    );
    expect(fwd.code).toBe(EXIT.usage);
    expect(fwd.err).toMatch(/--forward times single model calls/);
  });
});
