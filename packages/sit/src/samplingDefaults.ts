// A model's recommended sampling settings, recorded beside its architecture in the safetensors metadata
// under "flowturbo.sampling" (JSON, e.g. {"cfg": 2}): `flowturbo sample`/`bench` and the web app use them
// when the user gives none (an explicit --cfg always wins).

/** The safetensors metadata key of the recommended sampling settings. */
export const SAMPLING_DEFAULTS_KEY = "flowturbo.sampling";

export interface SamplingDefaults {
  /** Recommended classifier-free guidance scale (1 = no guidance). */
  cfg?: number;
}

/** The recommended settings in a model file's metadata ({} when it records none). */
export function samplingDefaultsOf(
  metadata: Readonly<Record<string, string>> | undefined,
  file = "model",
): SamplingDefaults {
  const raw = metadata?.[SAMPLING_DEFAULTS_KEY];
  if (raw === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error(`${file}: metadata '${SAMPLING_DEFAULTS_KEY}' is not JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${file}: metadata '${SAMPLING_DEFAULTS_KEY}' must be a JSON object`);
  const cfg = (v as { cfg?: unknown }).cfg;
  if (cfg !== undefined && !(typeof cfg === "number" && Number.isFinite(cfg) && cfg >= 0))
    throw new Error(`${file}: metadata '${SAMPLING_DEFAULTS_KEY}'.cfg must be a number >= 0`);
  return cfg === undefined ? {} : { cfg };
}
