// Regenerates public/gallery.png: what the embedded model (models/emoji) makes with the page's default
// settings (src/defaults.ts: plan, seed, number of images, random classes; guidance: the model's
// recommended scale, as the page uses), rendered by `flowturbo sample` (the page draws the same images:
// the Chromium tests compare them). Run after the embedded model changes:
//   pnpm --filter @flowturbo/web gallery
import { join } from "node:path";
import { COMMANDS, runCli } from "@flowturbo/cli";
import { DEFAULTS } from "../src/defaults";

const root = join(import.meta.dirname, "..");
const models = join(root, "..", "..", "models", "emoji");
const out = join(root, "public", "gallery.png");
const argv = [
  "sample",
  "--base",
  join(models, "base.safetensors"),
  "--refiner",
  join(models, "refiner.safetensors"),
  "--plan",
  DEFAULTS.plan,
  "--seed",
  String(DEFAULTS.seed),
  "--n",
  String(DEFAULTS.count),
  "-o",
  out,
];
const code = await runCli(argv, COMMANDS, { stdout: process.stdout, stderr: process.stderr });
if (code !== 0) throw new Error(`flowturbo ${argv.join(" ")} exited with ${code}`);
console.log(`wrote ${out} (flowturbo ${argv.slice(0, 1).concat(argv.slice(5)).join(" ")})`);
