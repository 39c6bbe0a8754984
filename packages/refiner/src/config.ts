// The FlowTurbo velocity refiner's architecture: a member of the SiT family (@flowturbo/sit).
import type { SiTConfig } from "@flowturbo/sit";

/**
 * The FlowTurbo velocity refiner of a base model: depth 1, the base width and heads, input
 * concat[x, v] (2x channels), output channels as the base model (learn_sigma: 2x), keep the first
 * `base.keepChannels` (delta v).
 */
export function refinerConfig(base: SiTConfig): SiTConfig {
  return { ...base, depth: 1, inChannels: base.keepChannels * 2, outChannels: base.outChannels };
}
