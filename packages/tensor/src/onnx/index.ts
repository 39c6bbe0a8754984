// ONNX serialization: model messages, protobuf encoding/decoding, tensor conversion, external data.

export {
  type EncodedModel,
  type EncodeOptions,
  encodeModel,
  MAX_MODEL_BYTES as ONNX_MAX_MODEL_BYTES,
} from "./encode";
export {
  type ExternalDataFile,
  type ExternalDataReader,
  type ExternalizeOptions,
  resolveExternalData,
} from "./external";
export {
  type AttributeProto,
  AttributeType as OnnxAttributeType,
  DataLocation as OnnxDataLocation,
  DataType as OnnxDataType,
  decodeModel,
  type FunctionProto,
  type GraphProto,
  IR_VERSION as ONNX_IR_VERSION,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type StringStringEntryProto,
  type TensorProto,
  type TensorShapeDimension,
  type TensorShapeProto,
  type TypeProto,
  type TypeProtoTensor,
  type ValueInfoProto,
} from "./proto";
export { dtypeFromOnnx, dtypeToOnnx, tensorFromProto, tensorToProto } from "./tensor";
