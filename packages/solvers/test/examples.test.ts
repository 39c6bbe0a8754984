import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

// The README's examples are the files in examples/, verbatim; each one runs here as written.
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const examples = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts"));

async function runExample(file: string): Promise<string> {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
  });
  await import(`../examples/${file.replace(/\.ts$/, "")}`);
  return lines.join("\n");
}

describe("README examples", () => {
  afterEach(() => vi.restoreAllMocks());

  it("are all in the README verbatim", () => {
    expect(examples.length).toBeGreaterThanOrEqual(7);
    for (const file of examples) {
      const code = readFileSync(join(root, "examples", file), "utf8").trim();
      expect(readme.includes(code), `${file} differs from its README copy`).toBe(true);
    }
  });

  it("quickstart runs and reports its solver statistics", async () => {
    const out = await runExample("quickstart.ts");
    expect(out).toMatch(/heun {2}: \{"base":20,"refiner":0\}/);
    expect(out).toMatch(/dopri5: \{"base":\d+,"refiner":0\} \d+ accepted/);
  });

  it("flowturbo runs H1P5R3 with CFG: 9 steps, 7 base and 6 refiner evaluations", async () => {
    const out = await runExample("flowturbo.ts");
    expect(out.match(/^step \d+ \([HPR]\)/gm)).toHaveLength(9);
    expect(out).toMatch(/\{"base":7,"refiner":6\} 512$/);
  });

  it("sde runs SiT's defaults and lands on the target's mean and std", async () => {
    const out = await runExample("sde.ts");
    const m = out.match(/^250 evaluations; sample mean (\S+) std (\S+)/);
    expect(m).not.toBeNull();
    expect(Math.abs(Number(m?.[1]) - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(Number(m?.[2]) - 0.3)).toBeLessThan(0.03);
  });

  it("denseOutput gives the closed-form solution at every requested time", async () => {
    const out = await runExample("denseOutput.ts");
    const errors = [...out.matchAll(/^t=(\S+) max error (\S+)$/gm)];
    expect(errors.map((m) => m[1])).toEqual(["0.00", "0.25", "0.50", "0.75", "1.00"]);
    for (const m of errors) expect(Number(m[2])).toBeLessThan(1e-6);
  });

  it("scheduler runs its own loop: 20 Heun calls, the same bits as solveFixedStep", async () => {
    const out = await runExample("scheduler.ts");
    expect(out).toContain("20 model calls, 10 steps");
    expect(out).toContain("identical to solveFixedStep: true");
  });

  it("guidance wraps a diffusers-order model and lands near the exact guided answer", async () => {
    const out = await runExample("guidance.ts");
    const m = out.match(/^512 values, 16 batched model calls, x\[0\] = (\S+)$/m);
    expect(m).not.toBeNull();
    expect(Math.abs(Number(m?.[1]) - (4 - 4 / Math.sqrt(Math.E)))).toBeLessThan(2e-3);
  });

  it("customOps runs RK4 on plain number[] states", async () => {
    const out = await runExample("customOps.ts");
    const x = JSON.parse(out) as number[];
    expect(x[0]).toBeCloseTo(1 - Math.exp(-1), 5);
    expect(x[1]).toBeCloseTo(1 + Math.exp(-1), 5);
  });
});
