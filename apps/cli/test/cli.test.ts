import { describe, expect, test } from "vitest";
import { COMMANDS, EXIT } from "../src";
import { cli } from "./run";

describe("flowturbo CLI", () => {
  test("help lists every command; each command has help with examples", async () => {
    const main = await cli("--help");
    expect(main.code).toBe(EXIT.ok);
    for (const c of COMMANDS) {
      expect(main.out).toContain(c.name);
      const help = await cli(c.name, "--help");
      expect(help.code).toBe(EXIT.ok);
      expect(help.out).toMatch(/examples:\n {2}flowturbo /);
    }
  });

  test("usage errors name the problem and exit 2", async () => {
    const unknown = await cli("smaple");
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.err).toMatch(/unknown command 'smaple'/);
    const flag = await cli("doctor", "--bogus");
    expect(flag.code).toBe(EXIT.usage);
    expect(flag.err).toMatch(/bogus/);
    const value = await cli("doctor", "--provider", "tpu");
    expect(value.code).toBe(EXIT.usage);
    expect(value.err).toMatch(/--provider must be one of cpu, cuda, webgpu, got 'tpu'/);
  });

  test("doctor --json checks ORT CPU against the interpreter and prints valid JSON", async () => {
    const r = await cli("doctor", "--json");
    expect(r.code).toBe(EXIT.ok);
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(true);
    expect(report.available).toContain("cpu");
    expect(report.report[0].cases).toBeGreaterThan(30);
    expect(report.report[0].worstRelError).toBeLessThan(1e-5);
  });
});
