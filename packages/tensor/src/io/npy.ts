// NumPy .npy format (versions 1.0, 2.0, 3.0): magic "\x93NUMPY", version, header length (uint16 for v1,
// uint32 for v2/v3), a Python dict literal {'descr', 'fortran_order', 'shape'} padded so the data starts
// on a 64-byte boundary, then the raw array data. Little-endian C-order arrays only.

import { type ByteSource, readAt, type SourceLike, sourceName, toSource } from "./byteSource";
import { DTYPE_SIZE, type DType, viewBytes } from "../dtype";
import { TensorFileError } from "./errors";
import { type ByteSink, concatBytes, tensorBytes, writeChunks } from "./sink";
import { Tensor } from "../tensor";
import { formatShape, numel } from "../shape";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Largest header we accept (numpy's own reader refuses far smaller ones by default). */
export const NPY_MAX_HEADER = 1 << 20;

const DESCR_TO_DTYPE: Record<string, DType> = {
  "<f4": "float32",
  "<f2": "float16",
  "<f8": "float64",
  "<i8": "int64",
  "<i4": "int32",
  "|u1": "uint8",
  "<u1": "uint8",
  "|b1": "bool",
  "<b1": "bool",
};

const DTYPE_TO_DESCR: Record<DType, string> = {
  float32: "<f4",
  float16: "<f2",
  float64: "<f8",
  int64: "<i8",
  int32: "<i4",
  uint8: "|u1",
  bool: "|b1",
};

/** A parsed .npy header. */
export interface NpyHeader {
  readonly version: readonly [number, number];
  /** numpy dtype string, e.g. "<f4". */
  readonly descr: string;
  readonly dtype: DType;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Bytes before the array data (magic + length field + header text). */
  readonly headerLength: number;
  /** Bytes of array data: numel(shape) * element size. */
  readonly dataLength: number;
}

/** Names used in error messages: the file, and the array inside it (for npz members). */
export interface NpyContext {
  file?: string;
  array?: string;
}

function npyError(ctx: NpyContext, message: string): TensorFileError {
  return new TensorFileError(
    ctx.file ?? "<npy>",
    ctx.array !== undefined ? `array '${ctx.array}': ${message}` : message,
  );
}

/**
 * Length of the whole .npy header (where the data starts) from the first 12 bytes (10 suffice for
 * version 1.0).
 */
export function npyHeaderLength(prefix: Uint8Array, ctx: NpyContext = {}): number {
  if (prefix.length < 10 || !MAGIC.every((b, i) => prefix[i] === b)) {
    throw npyError(ctx, `not a .npy array (missing the \\x93NUMPY magic)`);
  }
  const major = prefix[6];
  if (major === 1) return 10 + (prefix[8] | (prefix[9] << 8));
  if (major === 2 || major === 3) {
    if (prefix.length < 12) throw npyError(ctx, `truncated .npy header`);
    const n = (prefix[8] | (prefix[9] << 8) | (prefix[10] << 16) | (prefix[11] << 24)) >>> 0;
    if (n > NPY_MAX_HEADER)
      throw npyError(ctx, `.npy header length ${n} exceeds the ${NPY_MAX_HEADER}-byte limit`);
    return 12 + n;
  }
  throw npyError(ctx, `unsupported .npy format version ${major}.${prefix[7]}`);
}

/**
 * Parses a .npy header; `bytes` must hold at least the whole header. Throws (naming the file and array)
 * on big-endian or Fortran-order arrays and dtypes other than <f4 <f2 <f8 <i8 <i4 |u1 |b1.
 */
export function parseNpyHeader(bytes: Uint8Array, ctx: NpyContext = {}): NpyHeader {
  const headerLength = npyHeaderLength(bytes, ctx);
  if (bytes.length < headerLength) {
    throw npyError(ctx, `truncated .npy header (needs ${headerLength} bytes, have ${bytes.length})`);
  }
  const major = bytes[6];
  const start = major === 1 ? 10 : 12;
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? "utf-8" : "latin1", { fatal: true }).decode(
      bytes.subarray(start, headerLength),
    );
  } catch {
    throw npyError(ctx, `.npy header is not valid text`);
  }
  let dict: unknown;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    throw npyError(ctx, `malformed .npy header ${JSON.stringify(text.trim())} (${(err as Error).message})`);
  }
  if (!(dict instanceof Map))
    throw npyError(ctx, `.npy header is not a dict: ${JSON.stringify(text.trim())}`);
  const keys = [...dict.keys()].sort();
  if (keys.join(",") !== "descr,fortran_order,shape") {
    throw npyError(ctx, `.npy header has keys [${keys.join(", ")}], expected descr, fortran_order, shape`);
  }
  const descr = dict.get("descr");
  const fortranOrder = dict.get("fortran_order");
  const shape = dict.get("shape");
  if (typeof descr !== "string")
    throw npyError(ctx, `.npy descr is not a string (structured dtypes are not supported)`);
  if (typeof fortranOrder !== "boolean") throw npyError(ctx, `.npy fortran_order is not a boolean`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw npyError(ctx, `invalid .npy shape ${JSON.stringify(shape)}`);
  }
  if (fortranOrder)
    throw npyError(
      ctx,
      `Fortran-order (fortran_order: True) arrays are not supported; save a C-contiguous array`,
    );
  if (descr.startsWith(">"))
    throw npyError(ctx, `big-endian dtype '${descr}' is not supported; save as little-endian`);
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) {
    throw npyError(ctx, `unsupported .npy dtype '${descr}' (supported: <f4 <f2 <f8 <i8 <i4 |u1 |b1)`);
  }
  const dataLength = numel(shape as number[]) * DTYPE_SIZE[dtype];
  if (!Number.isSafeInteger(dataLength))
    throw npyError(ctx, `.npy shape ${formatShape(shape as number[])} is too large`);
  return {
    version: [major, bytes[7]],
    descr,
    dtype,
    fortranOrder,
    shape: shape as number[],
    headerLength,
    dataLength,
  };
}

/** Decodes a whole .npy file held in memory. The tensor may share memory with `bytes`. */
export function decodeNpy(bytes: Uint8Array, ctx: NpyContext = {}): Tensor {
  const h = parseNpyHeader(bytes, ctx);
  const available = bytes.length - h.headerLength;
  if (available !== h.dataLength) {
    throw npyError(
      ctx,
      `${h.descr} array of shape ${formatShape(h.shape)} needs ${h.dataLength} data bytes, ` +
        `${available < h.dataLength ? "only" : "but"} ${available} follow the header${available < h.dataLength ? " (truncated)" : ""}`,
    );
  }
  return new Tensor(h.dtype, h.shape, viewBytes(h.dtype, bytes.subarray(h.headerLength)));
}

/** Reads a .npy file from a ByteSource (header first, then exactly the data range). */
export async function readNpy(input: SourceLike, options: { name?: string } = {}): Promise<Tensor> {
  const source: ByteSource = toSource(input, options.name);
  const ctx = { file: sourceName(source) };
  const prefix = await readAt(source, 0, Math.min(12, source.size), ".npy magic");
  const headerLength = npyHeaderLength(prefix, ctx);
  const header = parseNpyHeader(await readAt(source, 0, headerLength, ".npy header"), ctx);
  if (source.size - headerLength !== header.dataLength) {
    throw npyError(
      ctx,
      `${header.descr} array of shape ${formatShape(header.shape)} needs ${header.dataLength} data bytes, the file has ${source.size - headerLength} after the header`,
    );
  }
  const data = await readAt(source, headerLength, header.dataLength, "array data");
  return new Tensor(header.dtype, header.shape, viewBytes(header.dtype, data));
}

/** The .npy header numpy writes for this dtype and shape (version 1.0 unless the header needs 2.0). */
export function npyHeaderBytes(dtype: DType, shape: readonly number[]): Uint8Array {
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let text = `{'descr': '${DTYPE_TO_DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  // numpy leaves room for the first axis to grow to 21 digits (GROWTH_AXIS_MAX_DIGITS).
  if (shape.length > 0) text += " ".repeat(Math.max(0, 21 - String(shape[0]).length));
  for (const major of [1, 2]) {
    const fieldSize = major === 1 ? 2 : 4;
    const hlen = text.length + 1;
    const pad = 64 - ((MAGIC.length + 2 + fieldSize + hlen) % 64);
    const total = hlen + pad;
    if (major === 1 && total > 0xffff) continue;
    const out = new Uint8Array(MAGIC.length + 2 + fieldSize + total).fill(0x20);
    out.set(MAGIC);
    out[6] = major;
    out[7] = 0;
    const dv = new DataView(out.buffer);
    if (major === 1) dv.setUint16(8, total, true);
    else dv.setUint32(8, total, true);
    const start = 8 + fieldSize;
    for (let i = 0; i < text.length; i++) out[start + i] = text.charCodeAt(i);
    out[out.length - 1] = 0x0a;
    return out;
  }
  throw new Error("unreachable");
}

/** A .npy file as two chunks: header and a view of the tensor's storage. */
export function* npyChunks(tensor: Tensor): Generator<Uint8Array> {
  yield npyHeaderBytes(tensor.dtype, tensor.shape);
  yield tensorBytes(tensor);
}

/** A whole .npy file in memory (numpy-identical bytes for C-order arrays). */
export function encodeNpy(tensor: Tensor): Uint8Array<ArrayBuffer> {
  return concatBytes(npyChunks(tensor));
}

/** Streams a .npy file to `sink`; returns the number of bytes written. */
export function writeNpy(sink: ByteSink, tensor: Tensor): Promise<number> {
  return writeChunks(sink, npyChunks(tensor));
}

/**
 * Parses the Python literal subset used by .npy headers: dicts, tuples, lists, strings, ints, True,
 * False, None. Dicts become Maps, tuples/lists arrays.
 */
export function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at position ${i}`);
  };
  const value = (depth: number): unknown => {
    if (depth > 32) fail("nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const m = new Map<unknown, unknown>();
      for (;;) {
        ws();
        if (text[i] === "}") {
          i++;
          return m;
        }
        const k = value(depth + 1);
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        m.set(k, value(depth + 1));
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== "}") fail("expected ',' or '}'");
      }
    }
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]";
      i++;
      const items: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value(depth + 1));
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      i++;
      let s = "";
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\") {
          i++;
          if (i >= text.length) break;
        }
        s += text[i++];
      }
      if (text[i] !== c) fail("unterminated string");
      i++;
      return s;
    }
    const m = /^(-?\d+)L?|^(True|False|None)\b/.exec(text.slice(i, i + 64));
    if (!m) return fail("unexpected token");
    i += m[0].length;
    if (m[2] === "True") return true;
    if (m[2] === "False") return false;
    if (m[2] === "None") return null;
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) fail("integer too large");
    return n;
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail("trailing characters");
  return v;
}
