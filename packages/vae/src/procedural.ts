// Procedural weights for any VAE configuration, by the golden set's rule convention (see the golden
// README's "Procedural weights"): conv/linear weights uniform with variance 1/fan_in
// (scale sqrt(3 / fan_in)), norm weights 1 +- 0.1, every bias +-0.1. For tests, benchmarks and demos
// without a checkpoint; the values are bit-identical to the golden cases' weights.
import { type ProceduralRule, proceduralStateDict, type Tensor } from "@flowturbo/tensor";
import { SD_VAE_CONFIG, type VaeConfig } from "./config";
import type { VaePart } from "./weights";
import { vaeParameterShapes } from "./weights";

/** The rule table (name, shape, scale, offset) of every parameter of the configured AutoencoderKL. */
export function proceduralVaeRules(
  cfg: VaeConfig = SD_VAE_CONFIG,
  parts: readonly VaePart[] = ["encoder", "decoder"],
): ProceduralRule[] {
  const rules: ProceduralRule[] = [];
  for (const [name, shape] of vaeParameterShapes(cfg)) {
    const part: VaePart =
      name.startsWith("encoder.") || name.startsWith("quant_conv.") ? "encoder" : "decoder";
    if (!parts.includes(part)) continue;
    if (shape.length >= 2) {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      rules.push({ name, shape, scale: Math.sqrt(3 / fanIn), offset: 0 });
    } else {
      rules.push({ name, shape, scale: 0.1, offset: name.endsWith(".weight") ? 1 : 0 });
    }
  }
  return rules;
}

/** float32 procedural weights of the configured VAE (or only some parts), keyed by canonical name. */
export function proceduralVaeWeights(
  cfg: VaeConfig = SD_VAE_CONFIG,
  parts: readonly VaePart[] = ["encoder", "decoder"],
): Map<string, Tensor> {
  return proceduralStateDict(proceduralVaeRules(cfg, parts));
}
