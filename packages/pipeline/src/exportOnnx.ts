// Checkpoint -> ONNX (float32 or float16, dynamic batch) with the architecture recorded in the model.
import {
  checkStateDict,
  type ModelCheckpoint,
  type ModelKind,
  ONNX_CONFIG_KEY,
  type SiTConfig,
} from "@flowturbo/sit";
import { type EncodedModel, halfWeights, toHalfPrecision, toOnnxWithExternalData } from "@flowturbo/tensor";
import { modelGraph } from "./models";

export interface ExportOptions {
  dtype?: "float32" | "float16";
  /** Name of the external data file, used when the weights exceed 2 GiB (or always with forceExternal). */
  dataLocation?: string;
  forceExternal?: boolean;
}

export interface ExportedModel {
  encoded: EncodedModel;
  kind: ModelKind;
  config: SiTConfig;
  dtype: "float32" | "float16";
  parameters: number;
  inputs: string[];
  outputs: string[];
}

export function exportOnnx(ckpt: ModelCheckpoint, opts: ExportOptions = {}): ExportedModel {
  const dtype = opts.dtype ?? "float32";
  const graph = modelGraph(ckpt);
  checkStateDict(graph, ckpt.weights, ckpt.file);
  const g = dtype === "float16" ? toHalfPrecision(graph) : graph;
  const weights = dtype === "float16" ? halfWeights(ckpt.weights) : ckpt.weights;
  const encoded = toOnnxWithExternalData(g, {
    weights,
    metadata: {
      [ONNX_CONFIG_KEY]: JSON.stringify({ kind: ckpt.kind, config: ckpt.config }),
      "flowturbo.dtype": dtype,
    },
    encode: {
      externalData: opts.forceExternal ? "always" : "auto",
      location: opts.dataLocation ?? "model.onnx.data",
    },
  });
  return {
    encoded,
    kind: ckpt.kind,
    config: ckpt.config,
    dtype,
    parameters: graph.parameterCount(),
    inputs: graph.inputs.map((i) => i.value.name!),
    outputs: graph.outputs.map((o) => o.name),
  };
}
