// Shared helpers of the io tests: golden fixtures (fixtures/golden at the repository root), a
// read-recording ByteSource, a tiny pickle writer for crafted checkpoints.

import { readGoldenSync } from "@flowturbo/test-support";
import { expect } from "vitest";
import { type ByteSource, bytesSource, TensorFileError } from "../../src/io/index";

/** The bytes of a golden fixture, named from fixtures/golden (e.g. "sit/sit.pt", "metrics/adm_npz/adm_npz.npz"). */
export function fixture(name: string): Uint8Array {
  return readGoldenSync(name);
}

/** A ByteSource over `bytes` that records every [offset, offset + length) it is asked for. */
export interface RecordingSource extends ByteSource {
  readonly reads: [number, number][];
  /** Total bytes read. */
  readonly bytesRead: number;
}

export function recordingSource(bytes: Uint8Array, name: string): RecordingSource {
  const inner = bytesSource(bytes, name);
  const reads: [number, number][] = [];
  return {
    size: inner.size,
    name,
    reads,
    get bytesRead() {
      return reads.reduce((s, [a, b]) => s + (b - a), 0);
    },
    read: (offset, length) => {
      reads.push([offset, offset + length]);
      return inner.read(offset, length);
    },
  };
}

/** Whether any recorded read intersects [start, end). */
export function touches(reads: readonly [number, number][], start: number, end: number): boolean {
  return reads.some(([a, b]) => a < end && start < b);
}

/** Expects `promise` to reject with a TensorFileError whose message matches every pattern. */
export async function expectFileError(
  promise: Promise<unknown>,
  ...patterns: (RegExp | string)[]
): Promise<TensorFileError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error, "expected a TensorFileError").toBeInstanceOf(TensorFileError);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
  return error as TensorFileError;
}

export function expectFileErrorSync(fn: () => unknown, ...patterns: (RegExp | string)[]): TensorFileError {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error, "expected a TensorFileError").toBeInstanceOf(TensorFileError);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
  return error as TensorFileError;
}

export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function asciiBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Bytes of a typed array (a view). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Minimal pickle writer (protocol 2 opcodes) for crafting test checkpoints. */
export class PickleWriter {
  private readonly out: number[] = [0x80, 2];

  private op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }

  global(module: string, name: string): this {
    return this.op(0x63, ...asciiBytes(`${module}\n${name}\n`));
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  reduce(): this {
    return this.op(0x52);
  }
  newobj(): this {
    return this.op(0x81);
  }
  build(): this {
    return this.op(0x62);
  }
  binpersid(): this {
    return this.op(0x51);
  }
  false(): this {
    return this.op(0x89);
  }
  true(): this {
    return this.op(0x88);
  }
  none(): this {
    return this.op(0x4e);
  }
  int(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    return this.op(0x4a, ...b);
  }
  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.op(0x47, ...b);
  }
  str(s: string): this {
    const u = new TextEncoder().encode(s);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, u.length, true);
    return this.op(0x58, ...b, ...u);
  }
  ints(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  /** Pushes a torch tensor: _rebuild_tensor_v2(storage(pid), offset, size, stride, False, OrderedDict()). */
  tensor(
    storageType: string,
    key: string,
    numel: number,
    offset: number,
    size: number[],
    stride: number[],
  ): this {
    this.global("torch._utils", "_rebuild_tensor_v2").mark();
    this.mark()
      .str("storage")
      .global("torch", storageType)
      .str(key)
      .str("cpu")
      .int(numel)
      .tuple()
      .binpersid();
    this.int(offset).ints(size).ints(stride).false();
    this.global("collections", "OrderedDict").emptyTuple().reduce();
    return this.tuple().reduce();
  }
  stop(): Uint8Array {
    return Uint8Array.from([...this.out, 0x2e]);
  }
}

/** Asserts two byte arrays are identical (fast; reports the first differing index). */
export function expectSameBytes(actual: ArrayBufferView, expected: ArrayBufferView, what = "bytes"): void {
  const a = bytesOf(actual);
  const b = bytesOf(expected);
  expect(a.length, `${what}: length`).toBe(b.length);
  if (!Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))) {
    let i = 0;
    while (a[i] === b[i]) i++;
    expect.fail(`${what}: first difference at byte ${i} (${a[i]} vs ${b[i]})`);
  }
}
