// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length N, N bytes of
// JSON header, then the tensor data. Reading is lazy (one range read per tensor); writing follows the
// reference implementation's layout byte for byte (tensors sorted by dtype alignment then name, header
// padded with spaces to a multiple of 8).

import { type ByteSource, readAt, type SourceLike, sourceName, toSource } from "./byteSource";
import { type DType, viewBytes } from "../dtype";
import { TensorFileError } from "./errors";
import {
  type ByteSink,
  concatBytes,
  type NamedTensors,
  namedTensorEntries,
  tensorBytes,
  writeChunks,
} from "./sink";
import { Tensor } from "../tensor";
import { numel } from "../shape";

/** The reference implementation refuses headers above 100 MB; so do we. */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/** The reference `Dtype` enum in declaration (= alignment) order; writing sorts by it, descending. */
const DTYPE_ORDER = [
  "BOOL",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "F64",
  "I64",
  "U64",
];

const ELEMENT_SIZE: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

const TO_DTYPE: Record<string, DType> = {
  F32: "float32",
  F16: "float16",
  F64: "float64",
  I64: "int64",
  I32: "int32",
  U8: "uint8",
  BOOL: "bool",
};

const FROM_DTYPE: Record<DType, string> = {
  float32: "F32",
  float16: "F16",
  float64: "F64",
  int64: "I64",
  int32: "I32",
  uint8: "U8",
  bool: "BOOL",
};

/** One tensor's header entry. `begin`/`end` are byte offsets relative to the start of the data section. */
export interface SafetensorsEntry {
  readonly name: string;
  /** safetensors dtype name, e.g. "F32", "BF16". */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** An opened safetensors file: parsed, validated header; tensors are read on demand. */
export class SafetensorsFile {
  /** Entries in data-offset order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;

  constructor(
    readonly source: ByteSource,
    /** Absolute offset of the data section (8 + header length). */
    readonly dataStart: number,
    /** `__metadata__` (string to string), if present. */
    readonly metadata: Readonly<Record<string, string>> | undefined,
    entries: readonly SafetensorsEntry[],
  ) {
    this.entries = new Map(entries.map((e) => [e.name, e]));
  }

  get name(): string {
    return sourceName(this.source);
  }

  /** Tensor names in data-offset order. */
  get names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Header entry of `name`; throws naming the file if absent. */
  info(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e) throw new TensorFileError(this.name, `no tensor named '${name}'`);
    return e;
  }

  /** Raw little-endian bytes of one tensor (any dtype, including ones Tensor cannot hold). */
  async readBytes(name: string): Promise<Uint8Array> {
    const e = this.info(name);
    return readAt(this.source, this.dataStart + e.begin, e.end - e.begin, `data of tensor '${name}'`);
  }

  /**
   * Reads one tensor. F32/F16/F64/I64/I32/U8/BOOL map to the same dtype (float16 as raw bits); BF16 is
   * converted to float32 (exactly). Other dtypes throw (use `readBytes`).
   */
  async tensor(name: string): Promise<Tensor> {
    const e = this.info(name);
    if (e.dtype !== "BF16" && !(e.dtype in TO_DTYPE)) {
      throw new TensorFileError(
        this.name,
        `tensor '${name}' has dtype ${e.dtype}, which Tensor cannot hold (use readBytes)`,
      );
    }
    const bytes = await this.readBytes(name);
    if (e.dtype === "BF16") return new Tensor("float32", e.shape, bf16ToFloat32(bytes));
    return new Tensor(TO_DTYPE[e.dtype], e.shape, viewBytes(TO_DTYPE[e.dtype], bytes));
  }

  /** Reads the named tensors (default: all), in data-offset order. */
  async tensors(names: Iterable<string> = this.entries.keys()): Promise<Map<string, Tensor>> {
    const out = new Map<string, Tensor>();
    for (const n of names) out.set(n, await this.tensor(n));
    return out;
  }
}

/** Converts bfloat16 bits (little-endian bytes) to float32 values; exact. */
export function bf16ToFloat32(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength >>> 1;
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) bits[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
  return out;
}

/** Opens a safetensors file: reads and validates the header only (offsets, sizes, JSON, file size). */
export async function openSafetensors(
  input: SourceLike,
  options: { name?: string } = {},
): Promise<SafetensorsFile> {
  const source = toSource(input, options.name);
  const file = sourceName(source);
  if (source.size < 8) {
    throw new TensorFileError(
      file,
      `not a safetensors file: ${source.size} bytes is too short for the 8-byte header length`,
    );
  }
  const lenBytes = await readAt(source, 0, 8, "safetensors header length");
  const n64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER)) {
    throw new TensorFileError(
      file,
      `safetensors header length ${n64} exceeds the ${SAFETENSORS_MAX_HEADER}-byte limit (not a safetensors file, or corrupt)`,
    );
  }
  const n = Number(n64);
  if (8 + n > source.size) {
    throw new TensorFileError(
      file,
      `safetensors header length ${n} runs past the end of the file (${source.size} bytes): truncated or not a safetensors file`,
    );
  }
  const headerBytes = await readAt(source, 8, n, "safetensors header");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new TensorFileError(file, "safetensors header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TensorFileError(file, `safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TensorFileError(file, "safetensors header is not a JSON object");
  }
  let metadata: Record<string, string> | undefined;
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(file, value);
      continue;
    }
    entries.push(parseEntry(file, name, value));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      throw new TensorFileError(
        file,
        `tensor '${e.name}' data_offsets [${e.begin}, ${e.end}] ${e.begin < expected ? "overlap the previous tensor" : "leave a gap"} (expected it to start at ${expected})`,
      );
    }
    expected = e.end;
  }
  const dataStart = 8 + n;
  const available = source.size - dataStart;
  if (expected > available) {
    throw new TensorFileError(
      file,
      `truncated: the header describes ${expected} bytes of tensor data but only ${available} follow the header`,
    );
  }
  if (expected < available) {
    throw new TensorFileError(
      file,
      `${available - expected} unexpected bytes after the tensor data (header describes ${expected})`,
    );
  }
  return new SafetensorsFile(source, dataStart, metadata, entries);
}

/** Reads every tensor of a safetensors file (see `SafetensorsFile.tensor` for dtypes). */
export async function readSafetensors(
  input: SourceLike,
  options: { name?: string } = {},
): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> | undefined }> {
  const f = await openSafetensors(input, options);
  return { tensors: await f.tensors(), metadata: f.metadata ? { ...f.metadata } : undefined };
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TensorFileError(file, "safetensors __metadata__ is not an object of strings");
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string")
      throw new TensorFileError(file, `safetensors __metadata__ value of '${k}' is not a string`);
    out[k] = v;
  }
  return out;
}

function parseEntry(file: string, name: string, value: unknown): SafetensorsEntry {
  const bad = (what: string) => new TensorFileError(file, `safetensors header entry '${name}': ${what}`);
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad("is not an object");
  const v = value as Record<string, unknown>;
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== "string" || !(dtype in ELEMENT_SIZE))
    throw bad(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`invalid shape ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw bad(`invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const count = numel(shape as number[]);
  const nbytes = count * ELEMENT_SIZE[dtype];
  if (!Number.isSafeInteger(nbytes)) throw bad(`shape ${JSON.stringify(shape)} is too large`);
  const [begin, end] = offsets as number[];
  if (end - begin !== nbytes) {
    throw bad(
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} of shape [${shape.join(", ")}] needs ${nbytes}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Options of the safetensors writers. */
export interface SafetensorsWriteOptions {
  /** Written as `__metadata__` (string values only). */
  metadata?: Readonly<Record<string, string>>;
}

/** A tensor as the header describes it (its data may come later: openSafetensorsWriter). */
export interface SafetensorsSpec {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

/** Where each tensor's bytes go: relative to the start of the data section. */
export interface SafetensorsSlot extends SafetensorsSpec {
  begin: number;
  end: number;
}

/**
 * The reference layout of a safetensors file: tensors sorted by descending dtype alignment then by name
 * (UTF-8 byte order), contiguous offsets, JSON header padded with spaces to a multiple of 8 bytes.
 * Returns the header bytes (length prefix included) and the tensors in data order.
 */
export function safetensorsLayout(
  specs: readonly SafetensorsSpec[],
  options: SafetensorsWriteOptions = {},
): { header: Uint8Array; slots: SafetensorsSlot[] } {
  const enc = new TextEncoder();
  const seen = new Set<string>();
  const entries = specs.map((spec) => {
    if (spec.name === "__metadata__") throw new Error("'__metadata__' cannot be a tensor name");
    if (seen.has(spec.name)) throw new Error(`duplicate tensor name '${spec.name}'`);
    seen.add(spec.name);
    return { spec, key: enc.encode(spec.name), st: FROM_DTYPE[spec.dtype] };
  });
  entries.sort((a, b) => DTYPE_ORDER.indexOf(b.st) - DTYPE_ORDER.indexOf(a.st) || compareBytes(a.key, b.key));
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    if (typeof v !== "string") throw new Error(`safetensors metadata value of '${k}' must be a string`);
  }
  let offset = 0;
  const parts: string[] = [];
  const slots: SafetensorsSlot[] = [];
  if (options.metadata) parts.push(`"__metadata__":${JSON.stringify(options.metadata)}`);
  for (const { spec, st } of entries) {
    const n = spec.shape.reduce((a, d) => a * d, 1) * ELEMENT_SIZE[st];
    parts.push(
      `${JSON.stringify(spec.name)}:{"dtype":"${st}","shape":[${spec.shape.join(",")}],"data_offsets":[${offset},${offset + n}]}`,
    );
    slots.push({ ...spec, begin: offset, end: offset + n });
    offset += n;
  }
  const json = enc.encode(`{${parts.join(",")}}`);
  const header = new Uint8Array(8 + json.byteLength + ((8 - (json.byteLength % 8)) % 8)).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(header.byteLength - 8), true);
  header.set(json, 8);
  return { header, slots };
}

/**
 * The bytes of a safetensors file as chunks (header, then views of each tensor's storage), laid out as
 * the reference implementation does (safetensorsLayout).
 */
export function* safetensorsChunks(
  tensors: NamedTensors,
  options: SafetensorsWriteOptions = {},
): Generator<Uint8Array> {
  const byName = new Map(namedTensorEntries(tensors));
  const { header, slots } = safetensorsLayout(
    [...byName].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    options,
  );
  yield header.subarray(0, 8); // the length, then the JSON
  yield header.subarray(8);
  for (const slot of slots) yield tensorBytes(byName.get(slot.name)!);
}

/** A whole safetensors file in memory (see `safetensorsChunks` for the layout). */
export function encodeSafetensors(
  tensors: NamedTensors,
  options: SafetensorsWriteOptions = {},
): Uint8Array<ArrayBuffer> {
  return concatBytes(safetensorsChunks(tensors, options));
}

/** Streams a safetensors file to `sink`; returns the number of bytes written. */
export function writeSafetensors(
  sink: ByteSink,
  tensors: NamedTensors,
  options: SafetensorsWriteOptions = {},
): Promise<number> {
  return writeChunks(sink, safetensorsChunks(tensors, options));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
