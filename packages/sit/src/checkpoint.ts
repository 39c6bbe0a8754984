// Loading SiT / refiner weights from the files users have: the official .pt checkpoints (a plain state
// dict, or the {"model","ema","opt","args"} training wrapper), .safetensors, and our converted .onnx.
import {
  type ByteSource,
  decodeModel,
  loadTorchCheckpoint,
  openSafetensors,
  readAt,
  type SourceLike,
  sourceName,
  stateDict,
  type Tensor,
  tensorFromProto,
  toSource,
} from "@flowturbo/tensor";
import type { SiTConfig } from "./config";
import { type InferOptions, inferConfig, type ModelKind } from "./weights";

export type CheckpointFormat = "pt" | "safetensors" | "onnx";

export interface LoadCheckpointOptions extends InferOptions {
  /**
   * Which entry of a {"model","ema",...} wrapper to use. Default as the official code: "model" for a
   * refiner (FlowTurbo loads the non-EMA weights), "ema" for SiT (SiT's sample.py prefers EMA).
   */
  entry?: "model" | "ema";
}

export interface ModelCheckpoint {
  kind: ModelKind;
  config: SiTConfig;
  weights: Map<string, Tensor>;
  format: CheckpointFormat;
  /** The wrapper entry the weights came from, if any. */
  entry?: string;
  /** File name (for messages and manifests). */
  file: string;
  /** String metadata of a safetensors file (e.g. "classes": a JSON list of class names). */
  metadata?: Record<string, string>;
}

/** The metadata key of the model config in .onnx files (`flowturbo convert`) and safetensors we write. */
export const ONNX_CONFIG_KEY = "flowturbo.config";

/** Recognizes a checkpoint by its first bytes. */
export async function detectFormat(input: SourceLike, name?: string): Promise<CheckpointFormat> {
  const source = toSource(input, name);
  const head = await readAt(source, 0, Math.min(9, source.size), "file header");
  if (head[0] === 0x50 && head[1] === 0x4b) return "pt"; // zip: torch.save
  // safetensors: a u64 header length that fits the file, then JSON ('{', or '[' for a malformed header
  // that openSafetensors names), checked before ONNX: a length of 8 starts with ONNX's 0x08
  if (head.length >= 9 && (head[8] === 0x7b || head[8] === 0x5b)) {
    const length = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (length + 8n <= BigInt(source.size)) return "safetensors";
  }
  if (head[0] === 0x08) return "onnx"; // protobuf field 1 (ir_version), varint
  throw new Error(`${sourceName(source)}: not a .pt (zip), .safetensors or .onnx file`);
}

interface RawWeights {
  weights: Map<string, Tensor>;
  entry?: string;
  /** Architecture recorded in the file (our .onnx and .safetensors carry it under ONNX_CONFIG_KEY). */
  recorded?: { kind: ModelKind; config: SiTConfig };
  metadata?: Record<string, string>;
}

const CONFIG_FIELDS: readonly (keyof SiTConfig)[] = [
  "inputSize",
  "patchSize",
  "inChannels",
  "outChannels",
  "keepChannels",
  "hiddenSize",
  "depth",
  "numHeads",
  "numClasses",
  "mlpRatio",
];

/**
 * The architecture recorded under ONNX_CONFIG_KEY, checked against the weights before anything is built
 * from it: every size the tensors determine (depth, width, patch, input size, channels, classes, MLP
 * ratio) must agree with them; the heads (which no tensor shape shows) must divide the width. A file whose
 * metadata was edited (depth 100000, inputSize 400000) is refused here, not by running out of memory.
 */
export function checkRecordedModel(
  text: string,
  weights: ReadonlyMap<string, Tensor>,
  file: string,
): { kind: ModelKind; config: SiTConfig } {
  const what = `metadata '${ONNX_CONFIG_KEY}'`;
  let v: { kind?: unknown; config?: Record<string, unknown> };
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: ${what} is not valid JSON (${(err as Error).message})`);
  }
  if (v === null || typeof v !== "object" || typeof v.config !== "object" || v.config === null)
    throw new Error(`${file}: ${what} must be {"kind": "sit" | "refiner", "config": {...}}`);
  if (v.kind !== "sit" && v.kind !== "refiner")
    throw new Error(`${file}: ${what} records a '${String(v.kind)}' model, not a SiT or a refiner`);
  const recorded = v.config;
  const heads = recorded.numHeads;
  if (typeof heads !== "number" || !Number.isInteger(heads) || heads < 1)
    throw new Error(`${file}: ${what}: numHeads must be a positive integer, got ${JSON.stringify(heads)}`);
  const { config } = inferConfig(weights, { file, heads, kind: v.kind });
  const differ = CONFIG_FIELDS.filter((k) => recorded[k] !== config[k]);
  if (differ.length)
    throw new Error(
      `${file}: ${what} does not match the weights: ${differ
        .map((k) => `${k} ${JSON.stringify(recorded[k])} recorded, ${config[k]} in the tensors`)
        .join("; ")}`,
    );
  return { kind: v.kind, config };
}

async function readWeights(
  source: ByteSource,
  format: CheckpointFormat,
  opts: LoadCheckpointOptions,
): Promise<RawWeights> {
  const file = sourceName(source);
  if (format !== "pt" && opts.entry !== undefined)
    throw new Error(
      `${file}: entry '${opts.entry}' applies to .pt training checkpoints ({"model", "ema", ...}); this ${format} file holds one set of weights`,
    );
  if (format === "safetensors") {
    const f = await openSafetensors(source);
    const meta = f.metadata?.[ONNX_CONFIG_KEY];
    const weights = await f.tensors();
    return {
      weights,
      recorded: meta === undefined ? undefined : checkRecordedModel(meta, weights, file),
      metadata: f.metadata ? { ...f.metadata } : undefined,
    };
  }
  if (format === "onnx") {
    const model = decodeModel(await readAt(source, 0, source.size, "ONNX model"));
    const weights = new Map<string, Tensor>();
    // constant operands emitted by toOnnx are named const_N; everything else is a parameter
    for (const t of model.graph.initializer ?? [])
      if (t.name && !t.name.startsWith("const_")) weights.set(t.name, tensorFromProto(t));
    const meta = model.metadataProps?.find((m) => m.key === ONNX_CONFIG_KEY);
    return { weights, recorded: meta ? checkRecordedModel(meta.value, weights, file) : undefined };
  }
  const ckpt = await loadTorchCheckpoint(source);
  const entries =
    ckpt instanceof Map ? [...ckpt.keys()].map(String).filter((k) => k === "model" || k === "ema") : [];
  if (entries.length === 0) {
    if (opts.entry !== undefined)
      throw new Error(
        `${file}: no {"model", "ema"} entries (a plain state dict): entry '${opts.entry}' does not apply`,
      );
    return { weights: stateDict(ckpt) };
  }
  const kind = opts.kind ?? inferConfig(stateDict(ckpt, entries[0]), { ...opts, file }).kind;
  const entry = opts.entry ?? (kind === "refiner" ? "model" : "ema");
  if (!entries.includes(entry))
    throw new Error(`${file}: checkpoint has no '${entry}' entry (it has ${entries.join(", ")})`);
  return { weights: stateDict(ckpt, entry), entry };
}

/** Reads a checkpoint and infers its architecture from the weight shapes. */
export async function loadCheckpoint(
  input: SourceLike,
  opts: LoadCheckpointOptions = {},
): Promise<ModelCheckpoint> {
  const source = toSource(input, opts.file);
  const file = opts.file ?? sourceName(source);
  const format = await detectFormat(source);
  const { weights, entry, recorded, metadata } = await readWeights(source, format, opts);
  if (recorded) return { ...recorded, weights, format, file, metadata };
  const { kind, config } = inferConfig(weights, { ...opts, file });
  return { kind, config, weights, format, entry, file, metadata };
}
