// ONNX external data: initializers stored in a separate file next to the model
// (TensorProto.data_location = EXTERNAL, external_data = location / offset / length).

import { DTYPE_SIZE } from "../dtype";
import { numel } from "../shape";
import {
  DataLocation,
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type StringStringEntryProto,
  type TensorProto,
} from "./proto";
import { dtypeFromOnnx, tensorBytes, tensorFromProto } from "./tensor";

/** An external data file as a list of chunks in file order (zero padding included). */
export interface ExternalDataFile {
  /** File name relative to the model file, as written in the tensors' `location` entries. */
  location: string;
  /** Total size in bytes (the sum of the chunk lengths). */
  size: number;
  /**
   * Write these in order to produce the file (e.g. `for (const c of chunks) stream.write(c)`, or
   * `new Blob(chunks)` in a browser). Tensor chunks are views of the initializers' data, not copies.
   */
  chunks: Uint8Array[];
}

export interface ExternalizeOptions {
  /** Data file name, relative to the model file (default "model.onnx.data"). */
  location?: string;
  /** Initializers with fewer bytes than this stay inline (default 1024). */
  sizeThreshold?: number;
  /** Offset alignment in the data file (default 4096, the page size, so runtimes can mmap). */
  align?: number;
}

/** Moves the top-level graph's large initializers out of `model` (a new object; `model` is unchanged). */
export function externalizeInitializers(
  model: ModelProto,
  options: ExternalizeOptions = {},
): { model: ModelProto; file: ExternalDataFile } {
  const location = options.location ?? "model.onnx.data";
  const threshold = options.sizeThreshold ?? 1024;
  const align = options.align ?? 4096;
  if (!Number.isInteger(align) || align < 1)
    throw new Error(`external data alignment must be >= 1, got ${align}`);
  checkLocation(location);
  const zeros = new Uint8Array(align);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const initializer = (model.graph.initializer ?? []).map((t) => {
    const bytes = inlineBytes(t);
    if (bytes === undefined || bytes.length < threshold) return t;
    const pad = (align - (size % align)) % align;
    if (pad > 0) chunks.push(zeros.subarray(0, pad));
    const offset = size + pad;
    chunks.push(bytes);
    size = offset + bytes.length;
    const { rawData, floatData, int32Data, int64Data, doubleData, ...rest } = t;
    return {
      ...rest,
      dataLocation: DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: location },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(bytes.length) },
      ],
    };
  });
  return { model: { ...model, graph: { ...model.graph, initializer } }, file: { location, size, chunks } };
}

/** Raw little-endian bytes of an inline tensor, or undefined when it cannot be moved out. */
function inlineBytes(t: TensorProto): Uint8Array | undefined {
  if (t.dataLocation === DataLocation.EXTERNAL || t.dataType === DataType.STRING) return undefined;
  if (t.rawData !== undefined) return t.rawData;
  try {
    return tensorBytes(tensorFromProto(t));
  } catch {
    return undefined; // a data type host tensors do not support, stored in typed fields: leave inline
  }
}

/** Rejects absolute paths and ".." segments (external data must stay next to the model). */
function checkLocation(location: string): void {
  const parts = location.split(/[\\/]/);
  if (location === "" || /^([\\/]|[A-Za-z]:)/.test(location) || parts.includes("..")) {
    throw new Error(`external data location '${location}' must be a relative path inside the model's folder`);
  }
}

/** Reads `length` bytes at `offset` of the external file `location` (relative to the model file). */
export type ExternalDataReader = (
  location: string,
  offset: number,
  length: number,
) => Uint8Array | Promise<Uint8Array>;

/**
 * Loads every external tensor of `model` (initializers, tensor attributes, subgraphs, functions)
 * through `read`, returning a model whose tensors hold their data inline in `rawData`.
 * `model` is not modified. Locations that are absolute or contain ".." are rejected.
 */
export async function resolveExternalData(model: ModelProto, read: ExternalDataReader): Promise<ModelProto> {
  const tensor = async (t: TensorProto): Promise<TensorProto> => {
    if (t.dataLocation !== DataLocation.EXTERNAL) return t;
    const entries = new Map((t.externalData ?? []).map((e: StringStringEntryProto) => [e.key, e.value]));
    const location = entries.get("location");
    if (location === undefined) throw new Error(`external tensor '${t.name ?? ""}' has no location`);
    checkLocation(location);
    const offset = Number(entries.get("offset") ?? 0);
    const length =
      entries.get("length") !== undefined
        ? Number(entries.get("length"))
        : numel(t.dims) * DTYPE_SIZE[dtypeFromOnnx(t.dataType)];
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new Error(
        `external tensor '${t.name ?? ""}': bad offset/length '${entries.get("offset")}'/'${entries.get("length")}'`,
      );
    }
    const rawData = await read(location, offset, length);
    if (rawData.length !== length) {
      throw new Error(
        `external tensor '${t.name ?? ""}': read ${rawData.length} bytes of ${location} at ${offset}, expected ${length}`,
      );
    }
    const { externalData, dataLocation, ...rest } = t;
    return { ...rest, rawData };
  };
  const list = async <T>(items: T[] | undefined, f: (x: T) => Promise<T>): Promise<T[] | undefined> => {
    if (items === undefined) return undefined;
    const out: T[] = [];
    for (const x of items) out.push(await f(x)); // in order: one read at a time
    return out;
  };
  const node = async (n: NodeProto): Promise<NodeProto> => {
    if (n.attribute === undefined) return n;
    const attribute = await list(n.attribute, async (a) => {
      const b = { ...a };
      if (a.t) b.t = await tensor(a.t);
      if (a.g) b.g = await graph(a.g);
      if (a.tensors) b.tensors = await list(a.tensors, tensor);
      if (a.graphs) b.graphs = await list(a.graphs, graph);
      return b;
    });
    return { ...n, attribute };
  };
  const graph = async (g: GraphProto): Promise<GraphProto> => {
    const out: GraphProto = { ...g, node: (await list(g.node, node)) ?? [] };
    if (g.initializer) out.initializer = await list(g.initializer, tensor);
    return out;
  };
  const out: ModelProto = { ...model, graph: await graph(model.graph) };
  if (model.functions) {
    out.functions = await list(model.functions, async (f) => ({
      ...f,
      node: (await list(f.node, node)) ?? [],
    }));
  }
  return out;
}
