// ONNX protobuf messages as plain TypeScript objects, with an encoder and a decoder.
// Field numbers follow onnx/onnx.proto (IR version 10). Property names use the protobuf JSON
// (camelCase) spelling of the proto fields. Fields this module does not model are skipped on decode.

import { type Int64, ProtoReader, ProtoWriter } from "./wire";

export type { Int64 } from "./wire";

/** IR version written by default by tools in this package (ONNX 1.16+). */
export const IR_VERSION = 10;

/** TensorProto.DataType codes. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType codes. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

/** TensorProto.DataLocation codes. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

export interface StringStringEntryProto {
  key: string;
  value: string;
}

export interface OperatorSetIdProto {
  /** "" (or absent) is the default ONNX domain. */
  domain?: string;
  version: number;
}

export interface TensorProto {
  name?: string;
  dims: number[];
  /** An `DataType` code. */
  dataType: number;
  /** Little-endian element bytes. Decoded models hold views into the decoded buffer. */
  rawData?: Uint8Array;
  floatData?: number[];
  /** int32, int16, int8, uint16, uint8, bool and float16 (as bits) values. */
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  stringData?: Uint8Array[];
  /** `DataLocation.EXTERNAL` when the data lives in `externalData` (keys location, offset, length). */
  dataLocation?: number;
  externalData?: StringStringEntryProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface TensorShapeDimension {
  dimValue?: number;
  /** Symbolic dimension, e.g. "batch". */
  dimParam?: string;
  denotation?: string;
}

export interface TensorShapeProto {
  dim: TensorShapeDimension[];
}

export interface TypeProtoTensor {
  /** An `DataType` code. */
  elemType: number;
  /** Absent: unknown rank. */
  shape?: TensorShapeProto;
}

export interface TypeProto {
  tensorType?: TypeProtoTensor;
  sparseTensorType?: TypeProtoTensor;
  sequenceType?: { elemType?: TypeProto };
  optionalType?: { elemType?: TypeProto };
  mapType?: { keyType: number; valueType?: TypeProto };
  denotation?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface AttributeProto {
  name: string;
  /** An `AttributeType` code; inferred on encode from the value field that is set when omitted. */
  type?: number;
  f?: number;
  i?: Int64;
  /** UTF-8 string attribute (bytes in the proto). */
  s?: string;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: Int64[];
  strings?: string[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  refAttrName?: string;
  docString?: string;
}

export interface NodeProto {
  /** Input value names; "" marks an omitted optional input. */
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface GraphProto {
  name?: string;
  node: NodeProto[];
  initializer?: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

/** A model-local function (IR 8+), as emitted e.g. by the PyTorch dynamo exporter. */
export interface FunctionProto {
  name: string;
  domain?: string;
  overload?: string;
  input: string[];
  output: string[];
  /** Names of attributes without defaults. */
  attribute?: string[];
  /** Attributes with default values. */
  attributeProto?: AttributeProto[];
  node: NodeProto[];
  opsetImport?: OperatorSetIdProto[];
  valueInfo?: ValueInfoProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface ModelProto {
  irVersion: number;
  opsetImport: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps?: StringStringEntryProto[];
  functions?: FunctionProto[];
}

// ---------------------------------------------------------------------------------------------------
// Encoding. Every field that is defined is written (explicit presence, like onnx's proto2 schema).

type Writer = ProtoWriter;

const strings = (w: Writer, field: number, values: readonly string[] | undefined): void => {
  for (const s of values ?? []) w.string(field, s);
};

const opt = <T>(value: T | undefined, write: (v: T) => void): void => {
  if (value !== undefined) write(value);
};

const messages = <T>(
  w: Writer,
  field: number,
  values: readonly T[] | undefined,
  write: (w: Writer, v: T) => void,
) => {
  for (const v of values ?? []) w.message(field, (c) => write(c, v));
};

function writeEntry(w: Writer, e: StringStringEntryProto): void {
  w.string(1, e.key).string(2, e.value);
}

function writeOpset(w: Writer, o: OperatorSetIdProto): void {
  opt(o.domain, (v) => w.string(1, v));
  w.varint(2, o.version);
}

/** Writes a TensorProto (exported for the external-data writer). */
export function writeTensor(w: Writer, t: TensorProto): void {
  w.packedVarints(1, t.dims);
  w.varint(2, t.dataType);
  opt(t.floatData, (v) => w.packedFloats(4, v));
  opt(t.int32Data, (v) => w.packedVarints(5, v));
  for (const s of t.stringData ?? []) w.bytes(6, s);
  opt(t.int64Data, (v) => w.packedVarints(7, v));
  opt(t.name, (v) => w.string(8, v));
  opt(t.rawData, (v) => w.bytes(9, v));
  opt(t.doubleData, (v) => w.packedDoubles(10, v));
  opt(t.docString, (v) => w.string(12, v));
  messages(w, 13, t.externalData, writeEntry);
  opt(t.dataLocation, (v) => w.varint(14, v));
  messages(w, 16, t.metadataProps, writeEntry);
}

function writeTypeTensor(w: Writer, t: TypeProtoTensor): void {
  w.varint(1, t.elemType);
  opt(t.shape, (shape) =>
    w.message(2, (s) =>
      messages(s, 1, shape.dim, (d, dim) => {
        opt(dim.dimValue, (v) => d.varint(1, v));
        opt(dim.dimParam, (v) => d.string(2, v));
        opt(dim.denotation, (v) => d.string(3, v));
      }),
    ),
  );
}

function writeType(w: Writer, t: TypeProto): void {
  opt(t.tensorType, (v) => w.message(1, (c) => writeTypeTensor(c, v)));
  opt(t.sequenceType, (v) =>
    w.message(4, (c) => opt(v.elemType, (e) => c.message(1, (cc) => writeType(cc, e)))),
  );
  opt(t.mapType, (v) =>
    w.message(5, (c) => {
      c.varint(1, v.keyType);
      opt(v.valueType, (e) => c.message(2, (cc) => writeType(cc, e)));
    }),
  );
  opt(t.denotation, (v) => w.string(6, v));
  opt(t.sparseTensorType, (v) => w.message(8, (c) => writeTypeTensor(c, v)));
  opt(t.optionalType, (v) =>
    w.message(9, (c) => opt(v.elemType, (e) => c.message(1, (cc) => writeType(cc, e)))),
  );
}

function writeValueInfo(w: Writer, v: ValueInfoProto): void {
  w.string(1, v.name);
  opt(v.type, (t) => w.message(2, (c) => writeType(c, t)));
  opt(v.docString, (s) => w.string(3, s));
  messages(w, 4, v.metadataProps, writeEntry);
}

function attributeType(a: AttributeProto): number {
  if (a.type !== undefined) return a.type;
  const kinds: [keyof AttributeProto, number][] = [
    ["f", AttributeType.FLOAT],
    ["i", AttributeType.INT],
    ["s", AttributeType.STRING],
    ["t", AttributeType.TENSOR],
    ["g", AttributeType.GRAPH],
    ["floats", AttributeType.FLOATS],
    ["ints", AttributeType.INTS],
    ["strings", AttributeType.STRINGS],
    ["tensors", AttributeType.TENSORS],
    ["graphs", AttributeType.GRAPHS],
  ];
  const set = kinds.filter(([k]) => a[k] !== undefined);
  if (set.length !== 1 && a.refAttrName === undefined) {
    throw new Error(`attribute '${a.name}': set exactly one value field or give its type`);
  }
  return set.length === 1 ? set[0][1] : AttributeType.UNDEFINED;
}

function writeAttribute(w: Writer, a: AttributeProto): void {
  const type = attributeType(a);
  w.string(1, a.name);
  opt(a.f, (v) => w.float(2, v));
  opt(a.i, (v) => w.varint(3, v));
  opt(a.s, (v) => w.string(4, v));
  opt(a.t, (v) => w.message(5, (c) => writeTensor(c, v)));
  opt(a.g, (v) => w.message(6, (c) => writeGraph(c, v)));
  opt(a.floats, (v) => w.packedFloats(7, v));
  opt(a.ints, (v) => w.packedVarints(8, v));
  strings(w, 9, a.strings);
  messages(w, 10, a.tensors, writeTensor);
  messages(w, 11, a.graphs, writeGraph);
  opt(a.docString, (v) => w.string(13, v));
  w.varint(20, type);
  opt(a.refAttrName, (v) => w.string(21, v));
}

function writeNode(w: Writer, n: NodeProto): void {
  strings(w, 1, n.input);
  strings(w, 2, n.output);
  opt(n.name, (v) => w.string(3, v));
  w.string(4, n.opType);
  messages(w, 5, n.attribute, writeAttribute);
  opt(n.docString, (v) => w.string(6, v));
  opt(n.domain, (v) => w.string(7, v));
  opt(n.overload, (v) => w.string(8, v));
  messages(w, 9, n.metadataProps, writeEntry);
}

function writeGraph(w: Writer, g: GraphProto): void {
  messages(w, 1, g.node, writeNode);
  opt(g.name, (v) => w.string(2, v));
  messages(w, 5, g.initializer, writeTensor);
  opt(g.docString, (v) => w.string(10, v));
  messages(w, 11, g.input, writeValueInfo);
  messages(w, 12, g.output, writeValueInfo);
  messages(w, 13, g.valueInfo, writeValueInfo);
  messages(w, 16, g.metadataProps, writeEntry);
}

function writeFunction(w: Writer, f: FunctionProto): void {
  w.string(1, f.name);
  strings(w, 4, f.input);
  strings(w, 5, f.output);
  strings(w, 6, f.attribute);
  messages(w, 7, f.node, writeNode);
  opt(f.docString, (v) => w.string(8, v));
  messages(w, 9, f.opsetImport, writeOpset);
  opt(f.domain, (v) => w.string(10, v));
  messages(w, 11, f.attributeProto, writeAttribute);
  messages(w, 12, f.valueInfo, writeValueInfo);
  opt(f.overload, (v) => w.string(13, v));
  messages(w, 14, f.metadataProps, writeEntry);
}

/** Writes a ModelProto into a writer (no copy of raw data until `finish()`; see encodeModel). */
export function writeModel(m: ModelProto): ProtoWriter {
  const w = new ProtoWriter();
  w.varint(1, m.irVersion);
  opt(m.producerName, (v) => w.string(2, v));
  opt(m.producerVersion, (v) => w.string(3, v));
  opt(m.domain, (v) => w.string(4, v));
  opt(m.modelVersion, (v) => w.varint(5, v));
  opt(m.docString, (v) => w.string(6, v));
  w.message(7, (c) => writeGraph(c, m.graph));
  messages(w, 8, m.opsetImport, writeOpset);
  messages(w, 14, m.metadataProps, writeEntry);
  messages(w, 25, m.functions, writeFunction);
  return w;
}

// ---------------------------------------------------------------------------------------------------
// Decoding. Repeated fields that the interfaces mark optional are set only when non-empty.

/** Nesting limit for graphs inside attributes and for nested types (guards against stack overflow). */
const MAX_DEPTH = 64;

type Reader = ProtoReader;

function nested(depth: number, what: string): number {
  if (depth >= MAX_DEPTH) throw new Error(`protobuf: ${what} nested more than ${MAX_DEPTH} levels deep`);
  return depth + 1;
}

function number(v: Int64, what: string): number {
  if (typeof v === "bigint") throw new Error(`protobuf: ${what} ${v} is out of range`);
  return v;
}

function push<T>(obj: { [k: string]: unknown }, key: string, value: T): void {
  const list = obj[key] as T[] | undefined;
  if (list) list.push(value);
  else obj[key] = [value];
}

function readEntry(r: Reader): StringStringEntryProto {
  const e: StringStringEntryProto = { key: "", value: "" };
  while (r.next()) {
    if (r.field === 1) e.key = r.string();
    else if (r.field === 2) e.value = r.string();
    else r.skip();
  }
  return e;
}

function readOpset(r: Reader): OperatorSetIdProto {
  const o: OperatorSetIdProto = { version: 0 };
  while (r.next()) {
    if (r.field === 1) o.domain = r.string();
    else if (r.field === 2) o.version = number(r.int64(), "opset version");
    else r.skip();
  }
  return o;
}

function readTensor(r: Reader): TensorProto {
  const t: TensorProto = { dims: [], dataType: 0 };
  const o = t as unknown as { [k: string]: unknown };
  while (r.next()) {
    switch (r.field) {
      case 1: {
        const dims: Int64[] = [];
        r.varints(dims);
        for (const d of dims) t.dims.push(number(d, "tensor dimension"));
        break;
      }
      case 2:
        t.dataType = r.int32();
        break;
      case 4:
        t.floatData = r.floats(t.floatData ?? []);
        break;
      case 5: {
        const values: Int64[] = [];
        r.varints(values);
        t.int32Data ??= [];
        for (const v of values) t.int32Data.push(typeof v === "bigint" ? Number(BigInt.asIntN(32, v)) : v);
        break;
      }
      case 6:
        push(o, "stringData", r.bytesField());
        break;
      case 7:
        t.int64Data = r.varints(t.int64Data ?? []);
        break;
      case 8:
        t.name = r.string();
        break;
      case 9:
        t.rawData = r.bytesField();
        break;
      case 10:
        t.doubleData = r.doubles(t.doubleData ?? []);
        break;
      case 12:
        t.docString = r.string();
        break;
      case 13:
        push(o, "externalData", readEntry(r.message()));
        break;
      case 14:
        t.dataLocation = r.int32();
        break;
      case 16:
        push(o, "metadataProps", readEntry(r.message()));
        break;
      default:
        r.skip();
    }
  }
  return t;
}

function readTypeTensor(r: Reader): TypeProtoTensor {
  const t: TypeProtoTensor = { elemType: 0 };
  while (r.next()) {
    if (r.field === 1) t.elemType = r.int32();
    else if (r.field === 2) {
      const shape: TensorShapeProto = { dim: [] };
      const s = r.message();
      while (s.next()) {
        if (s.field !== 1) {
          s.skip();
          continue;
        }
        const d = s.message();
        const dim: TensorShapeDimension = {};
        while (d.next()) {
          if (d.field === 1) dim.dimValue = number(d.int64(), "dim_value");
          else if (d.field === 2) dim.dimParam = d.string();
          else if (d.field === 3) dim.denotation = d.string();
          else d.skip();
        }
        shape.dim.push(dim);
      }
      t.shape = shape;
    } else r.skip();
  }
  return t;
}

function readElemType(r: Reader, depth: number): { elemType?: TypeProto } {
  const out: { elemType?: TypeProto } = {};
  while (r.next()) {
    if (r.field === 1) out.elemType = readType(r.message(), depth);
    else r.skip();
  }
  return out;
}

function readType(r: Reader, depth: number): TypeProto {
  depth = nested(depth, "TypeProto");
  const t: TypeProto = {};
  while (r.next()) {
    switch (r.field) {
      case 1:
        t.tensorType = readTypeTensor(r.message());
        break;
      case 4:
        t.sequenceType = readElemType(r.message(), depth);
        break;
      case 5: {
        const m = r.message();
        const map: { keyType: number; valueType?: TypeProto } = { keyType: 0 };
        while (m.next()) {
          if (m.field === 1) map.keyType = m.int32();
          else if (m.field === 2) map.valueType = readType(m.message(), depth);
          else m.skip();
        }
        t.mapType = map;
        break;
      }
      case 6:
        t.denotation = r.string();
        break;
      case 8:
        t.sparseTensorType = readTypeTensor(r.message());
        break;
      case 9:
        t.optionalType = readElemType(r.message(), depth);
        break;
      default:
        r.skip();
    }
  }
  return t;
}

function readValueInfo(r: Reader): ValueInfoProto {
  const v: ValueInfoProto = { name: "" };
  while (r.next()) {
    if (r.field === 1) v.name = r.string();
    else if (r.field === 2) v.type = readType(r.message(), 0);
    else if (r.field === 3) v.docString = r.string();
    else if (r.field === 4)
      push(v as unknown as { [k: string]: unknown }, "metadataProps", readEntry(r.message()));
    else r.skip();
  }
  return v;
}

function readAttribute(r: Reader, depth: number): AttributeProto {
  const a: AttributeProto = { name: "" };
  const o = a as unknown as { [k: string]: unknown };
  while (r.next()) {
    switch (r.field) {
      case 1:
        a.name = r.string();
        break;
      case 2:
        a.f = r.float();
        break;
      case 3:
        a.i = r.int64();
        break;
      case 4:
        a.s = r.string();
        break;
      case 5:
        a.t = readTensor(r.message());
        break;
      case 6:
        a.g = readGraph(r.message(), depth);
        break;
      case 7:
        a.floats = r.floats(a.floats ?? []);
        break;
      case 8:
        a.ints = r.varints(a.ints ?? []);
        break;
      case 9:
        push(o, "strings", r.string());
        break;
      case 10:
        push(o, "tensors", readTensor(r.message()));
        break;
      case 11:
        push(o, "graphs", readGraph(r.message(), depth));
        break;
      case 13:
        a.docString = r.string();
        break;
      case 20:
        a.type = r.int32();
        break;
      case 21:
        a.refAttrName = r.string();
        break;
      default:
        r.skip();
    }
  }
  return a;
}

function readNode(r: Reader, depth: number): NodeProto {
  const n: NodeProto = { input: [], output: [], opType: "" };
  const o = n as unknown as { [k: string]: unknown };
  while (r.next()) {
    switch (r.field) {
      case 1:
        n.input.push(r.string());
        break;
      case 2:
        n.output.push(r.string());
        break;
      case 3:
        n.name = r.string();
        break;
      case 4:
        n.opType = r.string();
        break;
      case 5:
        push(o, "attribute", readAttribute(r.message(), depth));
        break;
      case 6:
        n.docString = r.string();
        break;
      case 7:
        n.domain = r.string();
        break;
      case 8:
        n.overload = r.string();
        break;
      case 9:
        push(o, "metadataProps", readEntry(r.message()));
        break;
      default:
        r.skip();
    }
  }
  return n;
}

function readGraph(r: Reader, depth: number): GraphProto {
  depth = nested(depth, "GraphProto");
  const g: GraphProto = { node: [], input: [], output: [] };
  const o = g as unknown as { [k: string]: unknown };
  while (r.next()) {
    switch (r.field) {
      case 1:
        g.node.push(readNode(r.message(), depth));
        break;
      case 2:
        g.name = r.string();
        break;
      case 5:
        push(o, "initializer", readTensor(r.message()));
        break;
      case 10:
        g.docString = r.string();
        break;
      case 11:
        g.input.push(readValueInfo(r.message()));
        break;
      case 12:
        g.output.push(readValueInfo(r.message()));
        break;
      case 13:
        push(o, "valueInfo", readValueInfo(r.message()));
        break;
      case 16:
        push(o, "metadataProps", readEntry(r.message()));
        break;
      default:
        r.skip();
    }
  }
  return g;
}

function readFunction(r: Reader): FunctionProto {
  const f: FunctionProto = { name: "", input: [], output: [], node: [] };
  const o = f as unknown as { [k: string]: unknown };
  while (r.next()) {
    switch (r.field) {
      case 1:
        f.name = r.string();
        break;
      case 4:
        f.input.push(r.string());
        break;
      case 5:
        f.output.push(r.string());
        break;
      case 6:
        push(o, "attribute", r.string());
        break;
      case 7:
        f.node.push(readNode(r.message(), 1));
        break;
      case 8:
        f.docString = r.string();
        break;
      case 9:
        push(o, "opsetImport", readOpset(r.message()));
        break;
      case 10:
        f.domain = r.string();
        break;
      case 11:
        push(o, "attributeProto", readAttribute(r.message(), 1));
        break;
      case 12:
        push(o, "valueInfo", readValueInfo(r.message()));
        break;
      case 13:
        f.overload = r.string();
        break;
      case 14:
        push(o, "metadataProps", readEntry(r.message()));
        break;
      default:
        r.skip();
    }
  }
  return f;
}

/**
 * Decodes a serialized ModelProto (.onnx bytes). Tensor `rawData` fields are views into `bytes`.
 * Throws an Error starting with "invalid ONNX model" on malformed or truncated input.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  try {
    const r = new ProtoReader(bytes);
    const m: ModelProto = { irVersion: 0, opsetImport: [], graph: { node: [], input: [], output: [] } };
    const o = m as unknown as { [k: string]: unknown };
    let hasGraph = false;
    while (r.next()) {
      switch (r.field) {
        case 1:
          m.irVersion = number(r.int64(), "ir_version");
          break;
        case 2:
          m.producerName = r.string();
          break;
        case 3:
          m.producerVersion = r.string();
          break;
        case 4:
          m.domain = r.string();
          break;
        case 5:
          m.modelVersion = number(r.int64(), "model_version");
          break;
        case 6:
          m.docString = r.string();
          break;
        case 7:
          m.graph = readGraph(r.message(), 0);
          hasGraph = true;
          break;
        case 8:
          m.opsetImport.push(readOpset(r.message()));
          break;
        case 14:
          push(o, "metadataProps", readEntry(r.message()));
          break;
        case 25:
          push(o, "functions", readFunction(r.message()));
          break;
        default:
          r.skip();
      }
    }
    if (!hasGraph || m.irVersion === 0)
      throw new Error("protobuf: no ir_version or graph (not an ONNX model?)");
    return m;
  } catch (e) {
    throw new Error(`invalid ONNX model: ${(e as Error).message}`, { cause: e });
  }
}
