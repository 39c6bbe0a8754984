#!/usr/bin/env node
// pnpm test:stress [--loops N] [--minutes M] [-- command ...]
//
// Runs the test suite (default: `pnpm test` with turbo's cache off) while N busy CPU loops (default 2) run
// in the background, to check that the tests tell a slow machine from a broken build. The loops stop
// when the command ends, or after M minutes (default 90) whatever happens. Prints the figures and a JSON line.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";

function usage(message) {
  console.error(`${message}\nusage: pnpm test:stress [--loops N] [--minutes M] [-- command ...]`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const flags = dash < 0 ? argv : argv.slice(0, dash);
const command = dash < 0 ? ["pnpm", "test"] : argv.slice(dash + 1);
let loops = 2;
let minutes = 90;
for (let i = 0; i < flags.length; i += 2) {
  const value = Number(flags[i + 1]);
  if (flags[i] === "--loops" && Number.isInteger(value) && value >= 0) loops = value;
  else if (flags[i] === "--minutes" && value > 0) minutes = value;
  else usage(`unknown or invalid option: ${flags.slice(i, i + 2).join(" ")}`);
}
if (!command.length) usage("no command after --");

const busy = [];
for (let i = 0; i < loops; i++)
  busy.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
const stopLoops = () => {
  for (const b of busy) b.kill("SIGKILL");
};
const bound = setTimeout(() => {
  console.error(`test:stress: ${minutes} minutes passed; stopping the busy loops`);
  stopLoops();
}, minutes * 60_000);
bound.unref();

const peak = { load1: 0 };
const sampler = setInterval(() => {
  peak.load1 = Math.max(peak.load1, loadavg()[0]);
}, 5000);
sampler.unref();

console.error(`test:stress: ${loops} busy loop(s); running: ${command.join(" ")}`);
const t0 = Date.now();
const child = spawn(command[0], command.slice(1), {
  stdio: "inherit",
  env: { ...process.env, TURBO_FORCE: "true" },
});
const finish = (code, signal) => {
  stopLoops();
  clearTimeout(bound);
  const seconds = Math.round((Date.now() - t0) / 1000);
  const result = {
    command: command.join(" "),
    loops,
    code,
    signal,
    seconds,
    peakLoad1: Number(peak.load1.toFixed(1)),
  };
  console.error(
    `test:stress: exit ${code ?? signal} after ${Math.floor(seconds / 60)} min ${seconds % 60} s with ${loops} busy loop(s) (peak 1-min load ${result.peakLoad1})`,
  );
  console.log(JSON.stringify(result));
  process.exit(code ?? 1);
};
child.on("exit", finish);
child.on("error", (e) => {
  console.error(`test:stress: cannot run ${command[0]}: ${e.message}`);
  finish(127, null);
});
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => child.kill(s));
