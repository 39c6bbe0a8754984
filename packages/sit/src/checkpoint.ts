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
  if (head.length >= 9 && head[8] === 0x7b) return "safetensors"; // u64 header length, then '{'
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

async function readWeights(
  source: ByteSource,
  format: CheckpointFormat,
  opts: LoadCheckpointOptions,
): Promise<RawWeights> {
  const file = sourceName(source);
  if (format === "safetensors") {
    const f = await openSafetensors(source);
    const meta = f.metadata?.[ONNX_CONFIG_KEY];
    return {
      weights: await f.tensors(),
      recorded: meta ? JSON.parse(meta) : undefined,
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
    return { weights, recorded: meta ? JSON.parse(meta.value) : undefined };
  }
  const ckpt = await loadTorchCheckpoint(source);
  const entries =
    ckpt instanceof Map ? [...ckpt.keys()].map(String).filter((k) => k === "model" || k === "ema") : [];
  if (entries.length === 0) return { weights: stateDict(ckpt) };
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
