import { type ExternalDataFile, type ExternalizeOptions, externalizeInitializers } from "./external";
import { type ModelProto, writeModel } from "./proto";

/** Largest serialized protobuf message (2 GiB - 1); larger models need external data. */
export const MAX_MODEL_BYTES = 2 ** 31 - 1;

export interface EncodeOptions extends ExternalizeOptions {
  /**
   * When to move initializers into an external data file: "auto" (default) only when the model
   * would exceed the 2 GiB protobuf limit, "always", or "never" (then too large a model throws).
   */
  externalData?: "auto" | "always" | "never";
}

export interface EncodedModel {
  /** The .onnx file. */
  model: Uint8Array;
  /** The data file to write next to it (under `external.location`), when initializers were moved out. */
  external?: ExternalDataFile;
}

/** Serializes a model to .onnx bytes; throws if it exceeds 2 GiB (use the `options` form then). */
export function encodeModel(model: ModelProto): Uint8Array;
/** Serializes a model, moving initializers to an external data file as `options` say. */
export function encodeModel(model: ModelProto, options: EncodeOptions): EncodedModel;
export function encodeModel(model: ModelProto, options?: EncodeOptions): Uint8Array | EncodedModel {
  const mode = options?.externalData ?? "auto";
  let writer = mode === "always" ? undefined : writeModel(model);
  let external: ExternalDataFile | undefined;
  if (writer === undefined || (mode === "auto" && options && writer.length > MAX_MODEL_BYTES)) {
    const moved = externalizeInitializers(model, options);
    writer = writeModel(moved.model);
    external = moved.file;
  }
  if (writer.length > MAX_MODEL_BYTES) {
    throw new Error(
      `ONNX model is ${writer.length} bytes, over the 2 GiB protobuf limit` +
        (options ? "" : ": encode with { externalData: 'auto' } to move initializers to a data file"),
    );
  }
  const bytes = writer.finish();
  if (!options) return bytes;
  return external ? { model: bytes, external } : { model: bytes };
}
