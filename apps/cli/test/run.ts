// Runs the CLI in-process with captured output.
import { Writable } from "node:stream";
import { COMMANDS, runCli } from "../src";

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await runCli(argv, COMMANDS, { stdout: out.stream, stderr: err.stream });
  return { code, out: out.text(), err: err.text() };
}
