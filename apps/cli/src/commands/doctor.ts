// `flowturbo doctor`: what this machine can run, checked against the float64 reference interpreter.
import { type ExecutionProvider, runConformance } from "@flowturbo/core";
import { createNodeBackend } from "@flowturbo/backend-node";
import { type Command, EXIT, UsageError } from "../cli";

const PROVIDERS: readonly ExecutionProvider[] = ["cpu", "cuda", "webgpu"];

export const doctor: Command = {
  name: "doctor",
  summary: "check the execution providers of this machine against the reference interpreter",
  usage: "flowturbo doctor [--provider cpu|cuda|webgpu] [--json]",
  examples: ["flowturbo doctor", "flowturbo doctor --provider webgpu --json"],
  options: {
    provider: {
      type: "string",
      value: "NAME",
      help: "check this provider: cpu, cuda or webgpu",
      default: "cpu",
    },
  },
  async run(ctx) {
    const requested = ctx.values.provider as string | undefined;
    if (requested && !PROVIDERS.includes(requested as ExecutionProvider)) {
      throw new UsageError(`--provider must be one of ${PROVIDERS.join(", ")}, got '${requested}'`);
    }
    const backend = createNodeBackend();
    const available = await backend.providers();
    const checks = requested ? [requested as ExecutionProvider] : available.filter((p) => p === "cpu");
    const report: {
      provider: string;
      used: string;
      cases: number;
      failed: string[];
      worstRelError: number;
    }[] = [];
    for (const provider of checks) {
      const results = await runConformance(backend, { providers: [provider] });
      report.push({
        provider,
        used: [...new Set(results.map((r) => r.provider))].join(","),
        cases: results.length,
        failed: results.filter((r) => !r.passed).map((r) => `${r.name}/${r.output}`),
        worstRelError: Math.max(...results.map((r) => r.relError)),
      });
    }
    const ok = report.every((r) => r.failed.length === 0);
    if (ctx.json) {
      ctx.stdout.write(`${JSON.stringify({ node: process.version, available, report, ok })}\n`);
    } else {
      ctx.stdout.write(
        `node ${process.version}; ONNX Runtime providers available: ${available.join(", ")}\n`,
      );
      for (const r of report) {
        const status = r.failed.length ? `FAILED ${r.failed.join(", ")}` : "ok";
        const fell = r.used === r.provider ? "" : ` (ran on ${r.used})`;
        ctx.stdout.write(
          `  ${r.provider.padEnd(7)}${fell} ${r.cases} outputs vs reference interpreter, worst rel. error ${r.worstRelError.toExponential(2)}: ${status}\n`,
        );
      }
    }
    return ok ? EXIT.ok : EXIT.failure;
  },
};
