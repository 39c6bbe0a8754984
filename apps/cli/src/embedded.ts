// The embedded default model (models/emoji/ in the repository): found by walking up from this file,
// or in FLOWTURBO_MODEL_DIR.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface EmbeddedModel {
  dir: string;
  base: string;
  refiner?: string;
}

export const EMBEDDED_SUBDIR = join("models", "emoji");

export function embeddedModel(env: NodeJS.ProcessEnv = process.env): EmbeddedModel | undefined {
  const candidates: string[] = [];
  if (env.FLOWTURBO_MODEL_DIR) candidates.push(env.FLOWTURBO_MODEL_DIR);
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    candidates.push(join(d, EMBEDDED_SUBDIR));
    if (dirname(d) === d) break;
  }
  for (const dir of candidates) {
    const base = join(dir, "base.safetensors");
    if (!existsSync(base)) continue;
    const refiner = join(dir, "refiner.safetensors");
    return { dir, base, refiner: existsSync(refiner) ? refiner : undefined };
  }
  return undefined;
}
