// Messages between the caller's thread and the thread that owns the ONNX Runtime sessions (a worker, or
// the caller's own thread in in-thread mode). Tensors travel as plain {dtype, shape, data}; values kept
// where the session runs travel as numeric handles.
import type { ExecutionProvider, LogLevel, ValueInfo } from "@flowturbo/core";
import type { DType, TypedArray } from "@flowturbo/tensor";

export interface WireTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

/** A value that stays with the session's thread (a WebGPU buffer, or host memory of the worker). */
export interface WireHandle {
  handle: number;
  dtype: DType;
  shape: number[];
  location: string;
}

export type WireFeed = { kind: "host"; tensor: WireTensor } | { kind: "handle"; handle: number };
export type WireOutput = { kind: "host"; tensor: WireTensor } | ({ kind: "handle" } & WireHandle);

export type { ValueInfo };

export interface EngineLoadOptions {
  /** The model's display name for messages (graph name, file path, ...). */
  name: string;
  providers: ExecutionProvider[];
  threads?: number;
  keepOnDevice?: string[];
  optimization?: "disabled" | "basic" | "extended" | "all";
  logLevel?: LogLevel;
}

export interface LoadResult {
  id: number;
  provider: ExecutionProvider;
  /** Why earlier providers of the requested list were skipped ("cuda: ...; webgpu: ..."). */
  fallbackReason?: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export type Request =
  | { op: "providers" }
  | { op: "load"; model: Uint8Array | string; options: EngineLoadOptions }
  | { op: "run"; session: number; feeds: Record<string, WireFeed>; outputs?: string[] }
  | { op: "release"; session: number }
  | { op: "download"; handle: number }
  | { op: "dispose"; handle: number }
  | { op: "close" };

export interface Envelope {
  id: number;
  request: Request;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: SerializedError };

/** The transfer list for a typed array: its buffer when the array owns all of it (otherwise copy first). */
export function ownedBuffer(data: TypedArray): ArrayBuffer | undefined {
  const buf = data.buffer;
  if (!(buf instanceof ArrayBuffer)) return undefined;
  return data.byteOffset === 0 && data.byteLength === buf.byteLength ? buf : undefined;
}

/**
 * A copy of a typed array in a fresh ArrayBuffer of its own. (Not `.slice()`: on a Node Buffer that is a
 * view of the same memory, and transferring it would detach the caller's data.)
 */
export function freshCopy<T extends TypedArray>(data: T): T {
  const ctor = (data instanceof Uint8Array ? Uint8Array : data.constructor) as new (n: number) => T;
  const copy = new ctor(data.length);
  (copy as unknown as { set(a: ArrayLike<unknown>): void }).set(data as ArrayLike<unknown>);
  return copy;
}

/** Typed arrays whose buffers can move to the other thread without a copy (views are copied once). */
export function transferable(t: WireTensor): { tensor: WireTensor; transfer: ArrayBuffer[] } {
  const own = ownedBuffer(t.data);
  if (own) return { tensor: t, transfer: [own] };
  const data = freshCopy(t.data);
  return { tensor: { ...t, data }, transfer: [data.buffer as ArrayBuffer] };
}
