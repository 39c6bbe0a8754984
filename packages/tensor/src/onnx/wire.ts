// Minimal protobuf wire format: a writer that never copies large byte fields until `finish()`,
// and a bounds-checked reader. Only what ONNX needs (no groups, no zigzag).

/** Protobuf wire types. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/** A 64-bit integer: a number when it is a safe integer, a bigint otherwise. */
export type Int64 = number | bigint;

/** Byte fields at least this long are kept by reference instead of being copied into the buffer. */
const BIG_BYTES = 1 << 14;
const encoder = new TextEncoder();
const scratch = new DataView(new ArrayBuffer(8));
const decoder = new TextDecoder();

/**
 * Protobuf writer. Output is a list of parts: the growable working buffer is flushed into `parts`
 * whenever a large byte field or a large nested message is appended, which is then kept by reference.
 * So encoding a model with GBs of raw_data costs one copy (in `finish`), and `length` is known before it.
 */
export class ProtoWriter {
  private buf = new Uint8Array(64);
  private pos = 0;
  private parts: Uint8Array[] = [];
  private partsLength = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.partsLength + this.pos;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  private flush(): void {
    if (this.pos === 0) return;
    this.parts.push(this.buf.subarray(0, this.pos));
    this.partsLength += this.pos;
    this.buf = new Uint8Array(64);
    this.pos = 0;
  }

  private rawVarint(value: Int64): void {
    this.reserve(10);
    if (typeof value === "number" && value >= 0 && value < 0x80000000 && Number.isInteger(value)) {
      let v = value;
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new Error(`protobuf: cannot encode ${value} as an integer (use a bigint beyond 2^53)`);
    }
    // General case: two's complement 64-bit (negative values take 10 bytes, as protobuf requires).
    const big = BigInt(value);
    if (big > 0xffffffffffffffffn || big < -0x8000000000000000n) {
      throw new Error(`protobuf: ${value} does not fit in 64 bits`);
    }
    let v = BigInt.asUintN(64, big);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  private rawBytes(data: Uint8Array): void {
    if (data.length >= BIG_BYTES) {
      this.flush();
      this.parts.push(data);
      this.partsLength += data.length;
      return;
    }
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** int32 / int64 / uint64 / enum / bool field. */
  varint(field: number, value: Int64 | boolean): this {
    this.tag(field, WireType.VARINT);
    this.rawVarint(typeof value === "boolean" ? (value ? 1 : 0) : value);
    return this;
  }

  /** `float` field (fixed32). */
  float(field: number, value: number): this {
    this.tag(field, WireType.I32);
    this.reserve(4);
    scratch.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.buf[this.pos++] = scratch.getUint8(i);
    return this;
  }

  /** `double` field (fixed64). */
  double(field: number, value: number): this {
    this.tag(field, WireType.I64);
    this.reserve(8);
    scratch.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.buf[this.pos++] = scratch.getUint8(i);
    return this;
  }

  /** `bytes` field; data of 16 KiB or more is referenced, not copied, until `finish()`. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WireType.LEN);
    this.rawVarint(data.length);
    this.rawBytes(data);
    return this;
  }

  /** `string` field (UTF-8). */
  string(field: number, value: string): this {
    const n = value.length;
    if (n < 128) {
      // Fast path for short ASCII strings (names, op types): write the chars directly.
      let ascii = true;
      for (let i = 0; i < n && ascii; i++) ascii = value.charCodeAt(i) < 0x80;
      if (ascii) {
        this.tag(field, WireType.LEN);
        this.reserve(n + 1);
        this.buf[this.pos++] = n;
        for (let i = 0; i < n; i++) this.buf[this.pos++] = value.charCodeAt(i);
        return this;
      }
    }
    return this.bytes(field, encoder.encode(value));
  }

  /** Embedded message field, written by `write` into a fresh writer. */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const child = new ProtoWriter();
    write(child);
    this.tag(field, WireType.LEN);
    this.rawVarint(child.length);
    if (child.length < BIG_BYTES) {
      this.rawBytes(child.finish());
    } else {
      child.flush();
      this.flush();
      this.parts.push(...child.parts);
      this.partsLength += child.partsLength;
    }
    return this;
  }

  /** Packed repeated int32 / int64 / uint64 field (nothing is written for an empty list). */
  packedVarints(field: number, values: ArrayLike<Int64>): this {
    if (values.length === 0) return this;
    const child = new ProtoWriter();
    for (let i = 0; i < values.length; i++) child.rawVarint(values[i]);
    return this.bytes(field, child.finish());
  }

  /** Packed repeated float field. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return this.bytes(field, bytes);
  }

  /** Packed repeated double field. */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
    return this.bytes(field, bytes);
  }

  /** The encoded bytes, in one buffer. */
  finish(): Uint8Array {
    if (this.parts.length === 0) return this.buf.slice(0, this.pos);
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const p of this.parts) {
      out.set(p, offset);
      offset += p.length;
    }
    out.set(this.buf.subarray(0, this.pos), offset);
    return out;
  }
}

/**
 * Bounds-checked protobuf reader over `bytes[start, end)`. Every read checks its bounds and the wire
 * type of the current field, and throws an Error naming the byte offset on malformed input.
 */
export class ProtoReader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;
  /** Field number and wire type of the last tag read by `next()`. */
  field = 0;
  wire = 0;
  private view?: DataView;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    // A plain Uint8Array view (a Node Buffer's subarray/slice semantics differ).
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  private fail(message: string, at = this.pos): never {
    throw new Error(`protobuf: ${message} at byte ${at}`);
  }

  /** Reads the next tag; false at the end of the message. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const at = this.pos;
    const key = this.rawVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) this.fail("invalid field number 0", at);
    if (wire === 3 || wire === 4) this.fail(`unsupported group wire type in field ${field}`, at);
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) this.fail(`invalid wire type ${wire}`, at);
    this.field = field;
    this.wire = wire;
    return true;
  }

  private expect(wire: number): void {
    if (this.wire !== wire) this.fail(`field ${this.field} has wire type ${this.wire}, expected ${wire}`);
  }

  /** Unsigned varint as a number (exact below 2^53, otherwise a bigint via rawVarint64). */
  private rawVarint(): number {
    const v = this.rawVarint64();
    if (typeof v === "bigint") this.fail(`varint ${v} is too large`);
    return v;
  }

  /** Unsigned 64-bit varint. */
  private rawVarint64(): Int64 {
    const at = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint", at);
      const b = this.bytes[this.pos++];
      if (i < 7) {
        value += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) return value;
      } else {
        // Past 49 bits: redo exactly with bigints (rare: large or negative int64 values).
        let big = 0n;
        for (let j = 0; j <= i; j++) big |= BigInt(this.bytes[at + j] & 0x7f) << BigInt(7 * j);
        if (b < 0x80) {
          if (i === 9 && b > 1) this.fail("varint overflows 64 bits", at);
          return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
        }
      }
    }
    return this.fail("varint longer than 10 bytes", at);
  }

  /** int64 / int32 / enum field, sign-extended (int32 negatives are encoded as 64-bit). */
  int64(): Int64 {
    this.expect(WireType.VARINT);
    return toSigned(this.rawVarint64());
  }

  /** int32 / enum / bool field as a number. */
  int32(): number {
    const v = this.int64();
    return typeof v === "bigint" ? Number(BigInt.asIntN(32, v)) : v;
  }

  /** `float` field. */
  float(): number {
    this.expect(WireType.I32);
    return this.fixed(4);
  }

  /** `double` field. */
  double(): number {
    this.expect(WireType.I64);
    return this.fixed(8);
  }

  private fixed(size: 4 | 8): number {
    if (this.end - this.pos < size) this.fail(`truncated ${size === 4 ? "float" : "double"}`);
    this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const v = size === 4 ? this.view.getFloat32(this.pos, true) : this.view.getFloat64(this.pos, true);
    this.pos += size;
    return v;
  }

  /** Bounds of a length-delimited field's payload; advances past it. */
  private span(): [number, number] {
    this.expect(WireType.LEN);
    const at = this.pos;
    const len = this.rawVarint();
    if (len > this.end - this.pos) {
      this.fail(`length ${len} of field ${this.field} exceeds the ${this.end - this.pos} bytes left`, at);
    }
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  /** `bytes` field, as a view into the input (no copy). */
  bytesField(): Uint8Array {
    const [start, end] = this.span();
    return this.bytes.subarray(start, end);
  }

  /** `string` field (UTF-8). */
  string(): string {
    const [start, end] = this.span();
    if (end - start < 64) {
      // Fast path for short ASCII strings.
      let out = "";
      for (let i = start; i < end; i++) {
        const c = this.bytes[i];
        if (c >= 0x80) return decoder.decode(this.bytes.subarray(start, end));
        out += String.fromCharCode(c);
      }
      return out;
    }
    return decoder.decode(this.bytes.subarray(start, end));
  }

  /** Reader over an embedded message field. */
  message(): ProtoReader {
    const [start, end] = this.span();
    return new ProtoReader(this.bytes, start, end);
  }

  /** Repeated int32/int64 values, packed or not; appends to `out` and returns it. */
  varints<T extends Int64[]>(out: T): T {
    if (this.wire !== WireType.LEN) {
      out.push(this.int64());
      return out;
    }
    const r = this.message();
    while (r.pos < r.end) out.push(toSigned(r.rawVarint64()));
    return out;
  }

  /** Repeated float values, packed or not; appends to `out` and returns it. */
  floats(out: number[]): number[] {
    return this.fixeds(out, WireType.I32, 4);
  }

  /** Repeated double values, packed or not; appends to `out` and returns it. */
  doubles(out: number[]): number[] {
    return this.fixeds(out, WireType.I64, 8);
  }

  private fixeds(out: number[], wire: number, size: 4 | 8): number[] {
    if (this.wire !== WireType.LEN) {
      this.expect(wire);
      out.push(this.fixed(size));
      return out;
    }
    const r = this.message();
    if ((r.end - r.pos) % size !== 0)
      this.fail(`packed field ${this.field} is not a multiple of ${size} bytes`);
    while (r.pos < r.end) out.push(r.fixed(size));
    return out;
  }

  /** Skips the current field's value. */
  skip(): void {
    switch (this.wire) {
      case WireType.VARINT:
        this.rawVarint64();
        return;
      case WireType.I64:
      case WireType.I32: {
        const size = this.wire === WireType.I64 ? 8 : 4;
        if (this.end - this.pos < size) this.fail(`truncated field ${this.field}`);
        this.pos += size;
        return;
      }
      default:
        this.span();
    }
  }
}

/** Reinterprets an unsigned 64-bit value as signed; a number when it is a safe integer. */
function toSigned(v: Int64): Int64 {
  if (typeof v === "number") return v;
  const s = BigInt.asIntN(64, v);
  return s >= BigInt(Number.MIN_SAFE_INTEGER) && s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
}
