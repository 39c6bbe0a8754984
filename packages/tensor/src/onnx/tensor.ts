// Host Tensor <-> ONNX TensorProto, and DType <-> TensorProto.DataType.

import { DTYPE_SIZE, type DType, type TypedArrayOf, viewBytes } from "../dtype";
import { formatShape, numel } from "../shape";
import { Tensor } from "../tensor";
import { DataLocation, DataType, type TensorProto } from "./proto";

const TO_ONNX: Record<DType, number> = {
  float32: DataType.FLOAT,
  uint8: DataType.UINT8,
  int32: DataType.INT32,
  int64: DataType.INT64,
  bool: DataType.BOOL,
  float16: DataType.FLOAT16,
  float64: DataType.DOUBLE,
};

const FROM_ONNX = new Map<number, DType>(Object.entries(TO_ONNX).map(([d, code]) => [code, d as DType]));

/** The TensorProto.DataType code of a dtype. */
export function dtypeToOnnx(dtype: DType): number {
  const code = TO_ONNX[dtype];
  if (code === undefined) throw new Error(`dtype '${dtype}' has no ONNX data type`);
  return code;
}

/** The dtype of a TensorProto.DataType code; throws for types host tensors do not support. */
export function dtypeFromOnnx(code: number): DType {
  const dtype = FROM_ONNX.get(code);
  if (dtype === undefined) {
    const name = Object.entries(DataType).find(([, c]) => c === code)?.[0] ?? "unknown";
    throw new Error(`ONNX data type ${code} (${name}) is not supported by host tensors`);
  }
  return dtype;
}

/** Little-endian bytes of a tensor's storage (a view, not a copy). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** A TensorProto holding `t` in raw_data (a view of the tensor's storage, not a copy). */
export function tensorToProto(name: string, t: Tensor): TensorProto {
  return { name, dims: [...t.shape], dataType: dtypeToOnnx(t.dtype), rawData: tensorBytes(t) };
}

/**
 * The host tensor of a TensorProto, from raw_data or else the typed fields (float_data, int32_data,
 * int64_data, double_data). External data must be loaded first (see resolveExternalData).
 * Raw data is viewed in place when aligned, copied otherwise.
 */
export function tensorFromProto(p: TensorProto): Tensor {
  const dtype = dtypeFromOnnx(p.dataType);
  const label = `tensor '${p.name ?? ""}' ${dtype}${formatShape(p.dims)}`;
  if (p.dataLocation === DataLocation.EXTERNAL && p.rawData === undefined) {
    throw new Error(`${label}: data is external; load it first with resolveExternalData`);
  }
  const n = numel(p.dims);
  if (p.rawData !== undefined) {
    if (p.rawData.length !== n * DTYPE_SIZE[dtype]) {
      throw new Error(`${label}: raw_data has ${p.rawData.length} bytes, expected ${n * DTYPE_SIZE[dtype]}`);
    }
    // Copy misaligned data here: viewBytes' own copy uses .slice(), which does not copy a Node Buffer.
    const raw = p.rawData.byteOffset % DTYPE_SIZE[dtype] === 0 ? p.rawData : new Uint8Array(p.rawData);
    return new Tensor(dtype, p.dims, viewBytes(dtype, raw));
  }
  const values = typedValues(p, dtype);
  if (values === undefined) {
    if (n === 0) return Tensor.zeros(dtype, p.dims);
    throw new Error(`${label}: no data (raw_data or the ${dtype} typed field)`);
  }
  if (values.length !== n) throw new Error(`${label}: has ${values.length} values, expected ${n}`);
  const data: TypedArrayOf[DType] =
    dtype === "int64"
      ? BigInt64Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(v))
      : dtype === "float32"
        ? Float32Array.from(values as number[])
        : dtype === "float64"
          ? Float64Array.from(values as number[])
          : dtype === "int32"
            ? Int32Array.from(values as number[])
            : dtype === "float16"
              ? Uint16Array.from(values as number[])
              : Uint8Array.from(values as number[]);
  return new Tensor(dtype, p.dims, data);
}

function typedValues(p: TensorProto, dtype: DType): ArrayLike<number | bigint> | undefined {
  switch (dtype) {
    case "float32":
      return p.floatData;
    case "float64":
      return p.doubleData;
    case "int64":
      return p.int64Data;
    default:
      return p.int32Data;
  }
}
