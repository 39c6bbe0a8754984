// The embedded default model (models/emoji/ in the repository): found by walking up from this file,
// or in FLOWTURBO_MODEL_DIR.
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { samplingDefaultsOf } from "@flowturbo/sit";
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

/**
 * The guidance scale the embedded model recommends (its "flowturbo.sampling" metadata), read from the
 * file's header only: for --help. Undefined when it records none (or cannot be read).
 */
export function embeddedModelCfg(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const model = embeddedModel(env);
  if (!model) return undefined;
  const fd = openSync(model.base, "r");
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    if (n > 1 << 24) return undefined;
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    const meta = (JSON.parse(header.toString("utf8")) as { __metadata__?: Record<string, string> })
      .__metadata__;
    return samplingDefaultsOf(meta, model.base).cfg;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
