// PyTorch checkpoints (.pt / .pth written by torch.save since 1.6): a zip with "<top>/data.pkl" (the
// pickled object) and "<top>/data/<key>" (raw little-endian storages); <top> varies ("archive", the file
// stem, ...). The pickle is read with the restricted unpickler: only the globals needed to rebuild tensors
// and plain containers are allowed, nothing from the file is ever executed.

import { readAt, type SourceLike, sourceName, toSource } from "./byteSource";
import { allocate, DTYPE_SIZE, type DType, type TypedArray, viewBytes } from "../dtype";
import { TensorFileError } from "./errors";
import { containerGlobal, normalizeModule, type PickleGlobal, unpickle } from "./pickle";
import { bf16ToFloat32 } from "./safetensors";
import { formatShape, numel } from "../shape";
import { Tensor } from "../tensor";
import { openZip } from "./zip";

type StorageDType = DType | "bfloat16";

const STORAGE_TYPES: Record<string, StorageDType> = {
  FloatStorage: "float32",
  HalfStorage: "float16",
  DoubleStorage: "float64",
  LongStorage: "int64",
  IntStorage: "int32",
  ByteStorage: "uint8",
  BoolStorage: "bool",
  BFloat16Storage: "bfloat16",
};

/** Globals a checkpoint pickle may reference; every other global is refused. */
export const TORCH_ALLOWED_GLOBALS: readonly string[] = [
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.cuda.${s}`),
  "collections.OrderedDict",
  "builtins.set",
  "builtins.frozenset",
  "builtins.bytes",
  "builtins.bytearray",
  "_codecs.encode",
  "argparse.Namespace",
];

class StorageTypeGlobal implements PickleGlobal {
  readonly module = "torch";
  constructor(
    readonly name: string,
    readonly dtype: StorageDType,
  ) {}
}

class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: StorageDType,
    readonly numel: number,
  ) {}
}

class PendingTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => typeof d === "number" && Number.isSafeInteger(d))) {
    throw new Error(`${what} is not a tuple of integers`);
  }
  return v as number[];
}

function torchGlobals(pending: PendingTensor[]): (module: string, name: string) => PickleGlobal | undefined {
  const rebuild: PickleGlobal = {
    module: "torch._utils",
    name: "_rebuild_tensor_v2",
    call: (args) => {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof StorageRef)) throw new Error("first argument is not a storage");
      if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0)
        throw new Error("invalid storage offset");
      const t = new PendingTensor(storage, offset, intList(size, "size"), intList(stride, "stride"));
      pending.push(t);
      return t;
    },
  };
  const parameter: PickleGlobal = {
    module: "torch._utils",
    name: "_rebuild_parameter",
    call: (args) => {
      if (!(args[0] instanceof PendingTensor)) throw new Error("parameter data is not a tensor");
      return args[0];
    },
    build: () => undefined,
  };
  const storageTypes = new Map(
    Object.entries(STORAGE_TYPES).map(([n, d]) => [n, new StorageTypeGlobal(n, d)]),
  );
  return (module, name) => {
    if (module === "torch._utils") {
      if (name === "_rebuild_tensor_v2" || name === "_rebuild_tensor") return rebuild;
      if (name === "_rebuild_parameter" || name === "_rebuild_parameter_with_state") return parameter;
      return undefined;
    }
    // Storage classes are data-type markers only (old CUDA checkpoints name torch.cuda.*Storage).
    if (module === "torch" || module === "torch.cuda") return storageTypes.get(name);
    if (normalizeModule(module) === "builtins" || ["collections", "_codecs", "argparse"].includes(module)) {
      return containerGlobal(module, name);
    }
    return undefined;
  };
}

/**
 * The largest data.pkl accepted: the pickle holds the structure (names, shapes, storage keys; about
 * 200 bytes per tensor), the tensor data lives in data/<key> records. 256 MiB is a million tensors.
 */
export const TORCH_MAX_PICKLE_BYTES = 256 << 20;

/** Options of `loadTorchCheckpoint`. */
export interface TorchLoadOptions {
  /** File name for error messages. */
  name?: string;
  /** Verify each storage's zip CRC-32 (default true). */
  checkCrc?: boolean;
}

/**
 * Loads a PyTorch zip checkpoint into plain JS values: tensors become `Tensor`s (contiguous; BF16
 * storages are converted to float32), dicts and OrderedDicts (state dicts included) become
 * `Map`s in file order, lists and tuples arrays, argparse.Namespace a plain object (see pickle.ts for the
 * full mapping). Only storages the pickle references are read. Tensors that view the same storage
 * contiguously share memory, as in torch. Throws `TensorFileError` naming the file on anything
 * malformed, truncated or not allowed (e.g. "refusing global 'posix.system'").
 */
export async function loadTorchCheckpoint(
  input: SourceLike,
  options: TorchLoadOptions = {},
): Promise<unknown> {
  const source = toSource(input, options.name);
  const file = sourceName(source);
  const magic = await readAt(source, 0, Math.min(4, source.size), "file signature");
  if (magic[0] !== 0x50 || magic[1] !== 0x4b) {
    if (magic[0] === 0x80) {
      throw new TensorFileError(
        file,
        "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with a current torch",
      );
    }
    throw new TensorFileError(file, "not a PyTorch zip checkpoint (no zip signature)");
  }
  const zip = await openZip(source);
  const first = zip.entries[0]?.name ?? "";
  let top = first.includes("/") ? first.slice(0, first.indexOf("/")) : "";
  if (!zip.get(`${top}/data.pkl`)) {
    const candidates = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
    if (candidates.length !== 1) {
      throw new TensorFileError(file, "not a PyTorch zip checkpoint: no '<folder>/data.pkl' record");
    }
    top = candidates[0].name.slice(0, -"/data.pkl".length);
  }
  const byteorder = zip.get(`${top}/byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await zip.read(byteorder)).trim();
    if (order !== "little")
      throw new TensorFileError(file, `checkpoint byte order is '${order}'; only little-endian is supported`);
  }
  const pkl = await zip.read(`${top}/data.pkl`, {
    checkCrc: options.checkCrc,
    maxSize: TORCH_MAX_PICKLE_BYTES,
  });
  const pending: PendingTensor[] = [];
  const refs = new Map<string, StorageRef>();
  const value = unpickle(pkl, {
    name: `${file} (${top}/data.pkl)`,
    findGlobal: torchGlobals(pending),
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
        throw new Error(
          `unsupported persistent id ${describe(pid)} (expected ('storage', type, key, location, numel))`,
        );
      }
      const [, type, key, , count] = pid;
      if (!(type instanceof StorageTypeGlobal)) throw new Error("storage type is not a torch storage class");
      if (typeof key !== "string" || typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
        throw new Error(`invalid storage key or size in ${describe(pid)}`);
      }
      const known = refs.get(key);
      if (known) return known;
      const ref = new StorageRef(key, type.dtype, count);
      refs.set(key, ref);
      return ref;
    },
  });
  // Read each referenced storage once, then build the tensors.
  const storages = new Map<StorageRef, TypedArray>();
  for (const t of pending) {
    const ref = t.storage;
    if (storages.has(ref)) continue;
    const name = `${top}/data/${ref.key}`;
    const entry = zip.get(name);
    if (!entry) throw new TensorFileError(file, `storage record '${name}' is missing`);
    const itemSize = ref.dtype === "bfloat16" ? 2 : DTYPE_SIZE[ref.dtype];
    if (entry.size !== ref.numel * itemSize) {
      throw new TensorFileError(
        file,
        `storage record '${name}' has ${entry.size} bytes, expected ${ref.numel} x ${itemSize} = ${ref.numel * itemSize}`,
      );
    }
    const bytes = await zip.read(entry, { checkCrc: options.checkCrc });
    storages.set(ref, ref.dtype === "bfloat16" ? bf16ToFloat32(bytes) : viewBytes(ref.dtype, bytes));
  }
  const built = new Map<PendingTensor, Tensor>();
  const resolve = (p: PendingTensor): Tensor => {
    let t = built.get(p);
    if (!t) {
      const dtype: DType = p.storage.dtype === "bfloat16" ? "float32" : p.storage.dtype;
      const what = `tensor of shape ${formatShape(p.shape)} in storage '${p.storage.key}'`;
      let data: TypedArray;
      try {
        data = materialize(storages.get(p.storage)!, dtype, p.offset, p.shape, p.stride);
      } catch (err) {
        throw new TensorFileError(file, `${what}: ${(err as Error).message}`);
      }
      t = new Tensor(dtype, p.shape, data);
      built.set(p, t);
    }
    return t;
  };
  return replacePending(value, resolve);
}

/**
 * Copies the strided view (offset, shape, stride; in elements) of `storage` into a contiguous array, or
 * returns a subarray when the view is already contiguous. Checks the view stays inside the storage.
 */
export function materialize(
  storage: TypedArray,
  dtype: DType,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
): TypedArray {
  if (shape.length !== stride.length)
    throw new Error(`shape ${formatShape(shape)} and stride ${formatShape(stride)} differ in rank`);
  if (shape.some((d) => d < 0) || stride.some((s) => s < 0)) throw new Error("negative size or stride");
  const n = numel(shape);
  if (n === 0) return allocate(dtype, 0);
  if (n > Math.max(16 * storage.length, 1 << 24)) {
    // Only stride-0 (broadcast) views can be larger than their storage; refuse memory bombs.
    throw new Error(`view of ${n} elements over a storage of ${storage.length} is too large to materialize`);
  }
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
  if (offset < 0 || last >= storage.length) {
    throw new Error(
      `view (offset ${offset}, stride ${formatShape(stride)}) reaches element ${last}, beyond the storage's ${storage.length}`,
    );
  }
  let expected = 1;
  let contiguous = true;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) contiguous = false;
    expected *= shape[i];
  }
  if (contiguous) return storage.subarray(offset, offset + n) as TypedArray;
  const out = allocate(dtype, n) as TypedArray;
  const src = storage as Float64Array;
  const dst = out as Float64Array;
  const rank = shape.length;
  const inner = shape[rank - 1];
  const innerStride = stride[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) dst[o + j] = src[s];
    // Advance the outer index (odometer over dims 0..rank-2).
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      base += stride[d];
      if (idx[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Replaces every PendingTensor in a value graph (cycles and shared references handled, no recursion). */
function replacePending(root: unknown, resolve: (p: PendingTensor) => Tensor): unknown {
  const seen = new Set<object>();
  const todo: object[] = [];
  const visit = (v: unknown): unknown => {
    if (v instanceof PendingTensor) return resolve(v);
    if (
      v !== null &&
      typeof v === "object" &&
      !(v instanceof Tensor) &&
      !ArrayBuffer.isView(v) &&
      !seen.has(v)
    ) {
      seen.add(v);
      todo.push(v);
    }
    return v;
  };
  const out = visit(root);
  while (todo.length > 0) {
    const o = todo.pop()!;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) o[i] = visit(o[i]);
    } else if (o instanceof Map) {
      for (const [k, v] of o) {
        visit(k);
        const nv = visit(v);
        if (nv !== v) o.set(k, nv);
      }
    } else if (o instanceof Set) {
      const items = [...o].map(visit);
      o.clear();
      for (const v of items) o.add(v);
    } else {
      const rec = o as Record<string, unknown>;
      for (const k of Object.keys(rec)) rec[k] = visit(rec[k]);
    }
  }
  return out;
}

function describe(v: unknown): string {
  try {
    return (
      JSON.stringify(v, (_k, x) =>
        typeof x === "bigint" ? `${x}` : x instanceof StorageTypeGlobal ? `torch.${x.name}` : x,
      ) ?? String(v)
    );
  } catch {
    return String(v);
  }
}

/**
 * Flattens (part of) a loaded checkpoint into a state dict: `key` picks a top-level entry first (e.g.
 * the refiner's "model" or "ema"), then nested Maps / objects / arrays are flattened with "."-joined
 * keys, keeping only tensors, in insertion order.
 */
export function stateDict(value: unknown, key?: string): Map<string, Tensor> {
  let v = value;
  if (key !== undefined) {
    const keys = v instanceof Map ? [...v.keys()].map(String) : isRecord(v) ? Object.keys(v) : [];
    const entry = v instanceof Map ? v.get(key) : isRecord(v) ? v[key] : undefined;
    if (entry === undefined)
      throw new Error(`stateDict: no entry '${key}' (entries: ${keys.join(", ") || "none"})`);
    v = entry;
  }
  const out = new Map<string, Tensor>();
  const path = new Set<object>();
  const walk = (x: unknown, prefix: string, depth: number) => {
    if (x instanceof Tensor) {
      out.set(prefix, x);
      return;
    }
    if (x === null || typeof x !== "object" || path.has(x) || depth > 64) return;
    const join = (k: unknown) => (prefix === "" ? String(k) : `${prefix}.${String(k)}`);
    path.add(x);
    if (x instanceof Map) for (const [k, y] of x) walk(y, join(k), depth + 1);
    else if (Array.isArray(x)) for (let i = 0; i < x.length; i++) walk(x[i], join(i), depth + 1);
    else if (isRecord(x)) for (const [k, y] of Object.entries(x)) walk(y, join(k), depth + 1);
    path.delete(x);
  };
  walk(v, "", 0);
  if (out.size === 0)
    throw new Error(`stateDict: no tensors found${key !== undefined ? ` under '${key}'` : ""}`);
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
