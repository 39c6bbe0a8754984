// SiT / refiner architecture configuration.

export interface SiTConfig {
  /** Latent spatial size (32 for ImageNet 256 with the SD VAE). */
  inputSize: number;
  patchSize: number;
  /** Channels of the network input (4 for SiT; 8 for the refiner: concat[x, v]). */
  inChannels: number;
  /** Channels of the network output before `keepChannels` (8 with learn_sigma). */
  outChannels: number;
  /** Output channels returned (the velocity): 4. */
  keepChannels: number;
  hiddenSize: number;
  depth: number;
  numHeads: number;
  /** Real classes; the label table has numClasses + 1 rows (the last is the null class). */
  numClasses: number;
  mlpRatio: number;
}

/** The standard SiT/DiT sizes: depth / hidden / heads. Heads cannot be read from weights. */
export const SIT_SIZES = {
  XL: { depth: 28, hiddenSize: 1152, numHeads: 16 },
  L: { depth: 24, hiddenSize: 1024, numHeads: 16 },
  B: { depth: 12, hiddenSize: 768, numHeads: 12 },
  S: { depth: 12, hiddenSize: 384, numHeads: 6 },
} as const;

export type SiTSize = keyof typeof SIT_SIZES;

/** SiT config by name, e.g. sitConfig("XL", 2) for SiT-XL/2 at 256x256 (latent 32). */
export function sitConfig(
  size: SiTSize,
  patchSize: 2 | 4 | 8,
  opts: Partial<SiTConfig> & { learnSigma?: boolean } = {},
): SiTConfig {
  const inChannels = opts.inChannels ?? 4;
  const learnSigma = opts.learnSigma ?? true;
  return {
    inputSize: 32,
    patchSize,
    inChannels,
    outChannels: learnSigma ? inChannels * 2 : inChannels,
    keepChannels: inChannels,
    numClasses: 1000,
    mlpRatio: 4,
    ...SIT_SIZES[size],
    ...opts,
  };
}

/** Heads for a width in the standard table (per-head width 64 for every size but S/6 heads, 64 too). */
export function standardHeads(hiddenSize: number): number | undefined {
  return Object.values(SIT_SIZES).find((s) => s.hiddenSize === hiddenSize)?.numHeads;
}
