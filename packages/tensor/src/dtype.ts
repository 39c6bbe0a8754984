/** Element types of host tensors and graph values (names follow ONNX / numpy). */
export type DType = "float32" | "float16" | "float64" | "int64" | "int32" | "uint8" | "bool";

export const DTYPES: readonly DType[] = ["float32", "float16", "float64", "int64", "int32", "uint8", "bool"];

/**
 * Typed storage of each dtype. float16 is stored as raw IEEE half bits in a Uint16Array (see float16.ts);
 * bool as one byte per element (0 or 1).
 */
export interface TypedArrayOf {
  float32: Float32Array;
  float16: Uint16Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type TypedArray = TypedArrayOf[DType];

/** Bytes per element. */
export const DTYPE_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
};

export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float16" || dtype === "float64";
}

export function isDType(name: string): name is DType {
  return (DTYPES as readonly string[]).includes(name);
}

/** Allocates zeroed storage for `n` elements of `dtype`. */
export function allocate<D extends DType>(dtype: D, n: number): TypedArrayOf[D] {
  switch (dtype) {
    case "float32":
      return new Float32Array(n) as TypedArrayOf[D];
    case "float16":
      return new Uint16Array(n) as TypedArrayOf[D];
    case "float64":
      return new Float64Array(n) as TypedArrayOf[D];
    case "int64":
      return new BigInt64Array(n) as TypedArrayOf[D];
    case "int32":
      return new Int32Array(n) as TypedArrayOf[D];
    case "uint8":
    case "bool":
      return new Uint8Array(n) as TypedArrayOf[D];
    default:
      throw new Error(`unknown dtype '${dtype as string}'`);
  }
}

/** Views `bytes` (copied if misaligned) as storage of `dtype`. Little-endian hosts only (all supported ones). */
export function viewBytes<D extends DType>(dtype: D, bytes: Uint8Array): TypedArrayOf[D] {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new Error(
      `${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`,
    );
  }
  // new Uint8Array(view) copies (Buffer.prototype.slice would return another view)
  const src = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  const n = src.byteLength / size;
  switch (dtype) {
    case "float32":
      return new Float32Array(src.buffer, src.byteOffset, n) as TypedArrayOf[D];
    case "float16":
      return new Uint16Array(src.buffer, src.byteOffset, n) as TypedArrayOf[D];
    case "float64":
      return new Float64Array(src.buffer, src.byteOffset, n) as TypedArrayOf[D];
    case "int64":
      return new BigInt64Array(src.buffer, src.byteOffset, n) as TypedArrayOf[D];
    case "int32":
      return new Int32Array(src.buffer, src.byteOffset, n) as TypedArrayOf[D];
    case "uint8":
    case "bool":
      return new Uint8Array(src.buffer, src.byteOffset, n) as TypedArrayOf[D];
    default:
      throw new Error(`unknown dtype '${dtype as string}'`);
  }
}
