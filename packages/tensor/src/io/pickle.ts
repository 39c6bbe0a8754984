// A restricted Python unpickler (protocols 0-5). It never executes code from the pickle: every GLOBAL /
// STACK_GLOBAL is resolved through an allow-list supplied by the caller, and anything else is refused
// with an error naming the global. Values map to JS as:
//   None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number, str -> string,
//   bytes / bytearray -> Uint8Array, list and tuple -> Array, dict -> Map, set / frozenset -> Set;
// objects are whatever the allowed global returns.

import { TensorFileError } from "./errors";

/** A Python global the unpickler may use; only what it implements can be done with it. */
export interface PickleGlobal {
  readonly module: string;
  readonly name: string;
  /** `callable(*args)`: REDUCE, INST and OBJ. */
  call?(args: unknown[]): unknown;
  /** `cls.__new__(cls, *args, **kwargs)`: NEWOBJ and NEWOBJ_EX. */
  newObject?(args: unknown[], kwargs?: Map<unknown, unknown>): unknown;
  /** BUILD (`__setstate__`) on an object this global created. */
  build?(obj: unknown, state: unknown): void;
}

/** Options of `unpickle`. */
export interface UnpickleOptions {
  /** Name used in error messages (e.g. "model.pt:archive/data.pkl"). */
  name?: string;
  /** The allow-list: returns the global, or undefined to refuse it. Default: `containerGlobal`. */
  findGlobal?: (module: string, name: string) => PickleGlobal | undefined;
  /** Resolves persistent ids (PERSID / BINPERSID); without it they are refused. */
  persistentLoad?: (pid: unknown) => unknown;
}

const g = (module: string, name: string, impl: Omit<PickleGlobal, "module" | "name">): PickleGlobal => ({
  module,
  name,
  ...impl,
});

function iterableArg(args: unknown[], what: string): unknown[] {
  if (args.length === 0) return [];
  const a = args[0];
  if (Array.isArray(a)) return a;
  if (a instanceof Set) return [...a];
  if (a instanceof Map) return [...a.keys()];
  throw new Error(`${what}: unsupported argument`);
}

function encodeLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error("_codecs.encode: character outside latin-1");
    out[i] = c;
  }
  return out;
}

const bytesFromArgs = (args: unknown[]): Uint8Array => {
  if (args.length === 0) return new Uint8Array(0);
  const [v, enc] = args;
  if (v instanceof Uint8Array) return v.slice();
  if (typeof v === "string") {
    if (enc === "latin1" || enc === "latin-1") return encodeLatin1(v);
    if (enc === "utf-8" || enc === "utf8") return new TextEncoder().encode(v);
  }
  throw new Error("unsupported bytes/bytearray arguments");
};

/** Plain containers (and the pieces protocol 2 uses to spell bytes and sets) that are always safe. */
const CONTAINER_GLOBALS: PickleGlobal[] = [
  g("collections", "OrderedDict", {
    call: (args) => {
      const m = new Map<unknown, unknown>();
      if (args[0] instanceof Map) for (const [k, v] of args[0]) m.set(k, v);
      else
        for (const pair of iterableArg(args, "OrderedDict"))
          m.set((pair as unknown[])[0], (pair as unknown[])[1]);
      return m;
    },
    newObject: () => new Map(),
    // State of an OrderedDict is its __dict__ (torch puts `_metadata` there); it is dropped.
    build: () => undefined,
  }),
  g("builtins", "set", { call: (args) => new Set(iterableArg(args, "set")) }),
  g("builtins", "frozenset", { call: (args) => new Set(iterableArg(args, "frozenset")) }),
  g("builtins", "bytearray", { call: bytesFromArgs }),
  g("builtins", "bytes", { call: bytesFromArgs }),
  g("_codecs", "encode", { call: bytesFromArgs }),
  g("argparse", "Namespace", {
    call: (args) => ({ ...(args[0] instanceof Map ? Object.fromEntries(args[0]) : {}) }),
    newObject: () => ({}),
    build: (obj, state) => {
      const dict = Array.isArray(state) ? state[0] : state;
      if (!(dict instanceof Map)) throw new Error("argparse.Namespace state is not a dict");
      for (const [k, v] of dict) {
        // defineProperty, not assignment: a key "__proto__" must not change the prototype.
        Object.defineProperty(obj, String(k), {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    },
  }),
];

/** Python 2 module names that Python 3's unpickler maps (fix_imports). */
const PY2_MODULES: Record<string, string> = { __builtin__: "builtins", copy_reg: "copyreg" };

/** Normalizes a module name the way Python 3 unpickles protocol-0..2 pickles. */
export function normalizeModule(module: string): string {
  return PY2_MODULES[module] ?? module;
}

/**
 * The safe container globals: collections.OrderedDict (-> Map), builtins.set/frozenset (-> Set),
 * builtins.bytes/bytearray and _codecs.encode (-> Uint8Array), argparse.Namespace (-> plain object).
 */
export function containerGlobal(module: string, name: string): PickleGlobal | undefined {
  const m = normalizeModule(module);
  return CONTAINER_GLOBALS.find((x) => x.module === m && x.name === name);
}

const MARK = 0x28;

/**
 * Unpickles `data` with an allow-list of globals. Throws `TensorFileError` on refused globals
 * ("refusing global 'posix.system'"), unsupported opcodes, malformed or truncated input. Runs in time
 * linear in the input; never calls anything not returned by `findGlobal`.
 */
export function unpickle(data: Uint8Array, options: UnpickleOptions = {}): unknown {
  const file = options.name ?? "<pickle>";
  const findGlobal = options.findGlobal ?? containerGlobal;
  const fail = (msg: string, cause?: unknown) =>
    new TensorFileError(file, msg, cause === undefined ? undefined : { cause });
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder("utf-8");
  let pos = 0;
  let opPos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const creators = new WeakMap<object, PickleGlobal>();
  const globals = new WeakSet<PickleGlobal>();

  const need = (n: number, what: string) => {
    if (n < 0 || pos + n > data.length) {
      throw fail(
        `pickle truncated or corrupt: ${what} needs ${n} bytes at offset ${pos}, ${data.length - pos} left`,
      );
    }
  };
  const take = (n: number, what: string) => {
    need(n, what);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const u8 = (what: string) => take(1, what)[0];
  const u16 = (what: string) => {
    need(2, what);
    pos += 2;
    return dv.getUint16(pos - 2, true);
  };
  const u32 = (what: string) => {
    need(4, what);
    pos += 4;
    return dv.getUint32(pos - 4, true);
  };
  const u64 = (what: string) => {
    need(8, what);
    pos += 8;
    const v = dv.getBigUint64(pos - 8, true);
    if (v > BigInt(data.length)) throw fail(`pickle corrupt: ${what} length ${v} exceeds the data`);
    return Number(v);
  };
  const line = (what: string) => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw fail(`pickle truncated: ${what} has no terminating newline`);
    const s = data.subarray(pos, end);
    pos = end + 1;
    let out = "";
    for (const c of s) out += String.fromCharCode(c);
    return out.endsWith("\r") ? out.slice(0, -1) : out;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw fail(`pickle corrupt: stack underflow at offset ${opPos}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw fail(`pickle corrupt: empty stack at offset ${opPos}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) throw fail(`pickle corrupt: no MARK at offset ${opPos}`);
    stack = prev;
    return items;
  };
  // Pops to the last MARK, then pushes f(items) onto the restored stack. (Never write
  // `stack.push(popMark())`: `stack` would be read before popMark() reassigns it.)
  const pushAfterMark = (f: (items: unknown[]) => unknown) => {
    const items = popMark();
    const v = f(items);
    stack.push(v);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) throw fail(`pickle corrupt: memo key ${i} is not defined (offset ${opPos})`);
    return memo.get(i);
  };
  const parseInt10 = (s: string, what: string): number | bigint => {
    const t = s.trim().replace(/L$/, "");
    if (!/^[-+]?\d+$/.test(t)) throw fail(`pickle corrupt: bad ${what} '${s}'`);
    return toIntValue(BigInt(t));
  };
  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    const found = findGlobal(module, name);
    if (!found)
      throw fail(
        `refusing global '${module}.${name}' (not in the allow-list; code in pickles is never executed)`,
      );
    globals.add(found);
    return found;
  };
  const asGlobal = (v: unknown, what: string): PickleGlobal => {
    if (v === null || typeof v !== "object" || !globals.has(v as PickleGlobal)) {
      throw fail(`pickle corrupt: ${what} of something that is not an allowed global (offset ${opPos})`);
    }
    return v as PickleGlobal;
  };
  const invoke = (gl: PickleGlobal, fn: () => unknown, what: string): unknown => {
    let out: unknown;
    try {
      out = fn();
    } catch (err) {
      if (err instanceof TensorFileError) throw err;
      throw fail(`${what} ${gl.module}.${gl.name} failed: ${(err as Error).message}`, err);
    }
    if (out !== null && typeof out === "object") creators.set(out, gl);
    return out;
  };
  const call = (callee: unknown, args: unknown): unknown => {
    const gl = asGlobal(callee, "call");
    if (!Array.isArray(args))
      throw fail(`pickle corrupt: arguments of ${gl.module}.${gl.name} are not a tuple`);
    if (!gl.call) throw fail(`global '${gl.module}.${gl.name}' cannot be called`);
    return invoke(gl, () => gl.call!(args), "calling");
  };
  const newObj = (cls: unknown, args: unknown, kwargs?: unknown): unknown => {
    const gl = asGlobal(cls, "NEWOBJ");
    if (!Array.isArray(args))
      throw fail(`pickle corrupt: NEWOBJ arguments of ${gl.module}.${gl.name} are not a tuple`);
    if (kwargs !== undefined && !(kwargs instanceof Map))
      throw fail("pickle corrupt: NEWOBJ_EX kwargs are not a dict");
    if (!gl.newObject) throw fail(`global '${gl.module}.${gl.name}' cannot be instantiated`);
    return invoke(
      gl,
      () => gl.newObject!(args, kwargs as Map<unknown, unknown> | undefined),
      "instantiating",
    );
  };
  const asMap = (v: unknown, op: string): Map<unknown, unknown> => {
    if (!(v instanceof Map)) throw fail(`pickle corrupt: ${op} on a non-dict at offset ${opPos}`);
    return v;
  };
  const asList = (v: unknown, op: string): unknown[] => {
    if (!Array.isArray(v)) throw fail(`pickle corrupt: ${op} on a non-list at offset ${opPos}`);
    return v;
  };
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) throw fail("pickle uses persistent ids, which this reader does not support");
    try {
      return options.persistentLoad(pid);
    } catch (err) {
      if (err instanceof TensorFileError) throw err;
      throw fail(`persistent id: ${(err as Error).message}`, err);
    }
  };

  for (;;) {
    if (pos >= data.length) throw fail("pickle truncated: reached the end without a STOP opcode");
    opPos = pos;
    const op = data[pos++];
    switch (op) {
      case 0x80: {
        // PROTO
        const proto = u8("PROTO");
        if (proto > 5) throw fail(`unsupported pickle protocol ${proto}`);
        break;
      }
      case 0x95: // FRAME (a hint; the frame length just has to fit)
        u64("FRAME");
        break;
      case 0x2e: // STOP '.'
        return pop();
      case MARK:
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP '0'
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK '1'
        popMark();
        break;
      case 0x32: // DUP '2'
        stack.push(top());
        break;
      // ---- constants and numbers
      case 0x4e: // NONE 'N'
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: {
        // INT 'I'
        const s = line("INT");
        stack.push(s === "01" ? true : s === "00" ? false : parseInt10(s, "INT"));
        break;
      }
      case 0x4c: // LONG 'L'
        stack.push(parseInt10(line("LONG"), "LONG"));
        break;
      case 0x4a: // BININT 'J'
        need(4, "BININT");
        stack.push(dv.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1 'K'
        stack.push(u8("BININT1"));
        break;
      case 0x4d: // BININT2 'M'
        stack.push(u16("BININT2"));
        break;
      case 0x8a: // LONG1
        stack.push(toIntValue(signedLE(take(u8("LONG1"), "LONG1"))));
        break;
      case 0x8b: {
        // LONG4
        need(4, "LONG4");
        const n = dv.getInt32(pos, true);
        pos += 4;
        if (n < 0) throw fail("pickle corrupt: negative LONG4 length");
        stack.push(toIntValue(signedLE(take(n, "LONG4"))));
        break;
      }
      case 0x46: {
        // FLOAT 'F'
        const s = line("FLOAT").trim();
        const v = s === "inf" ? Infinity : s === "-inf" ? -Infinity : s === "nan" ? Number.NaN : Number(s);
        if (Number.isNaN(v) && s !== "nan") throw fail(`pickle corrupt: bad FLOAT '${s}'`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT 'G' (big-endian)
        need(8, "BINFLOAT");
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      // ---- strings and bytes
      case 0x53: // STRING 'S' (protocol 0 repr of a byte string)
        stack.push(unquote(line("STRING"), fail));
        break;
      case 0x54: // BINSTRING 'T'
        stack.push(latin1(take(u32("BINSTRING"), "BINSTRING")));
        break;
      case 0x55: // SHORT_BINSTRING 'U'
        stack.push(latin1(take(u8("SHORT_BINSTRING"), "SHORT_BINSTRING")));
        break;
      case 0x56: // UNICODE 'V' (raw-unicode-escape)
        stack.push(rawUnicodeEscape(line("UNICODE")));
        break;
      case 0x58: // BINUNICODE 'X'
        stack.push(utf8.decode(take(u32("BINUNICODE"), "BINUNICODE")));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(u8("SHORT_BINUNICODE"), "SHORT_BINUNICODE")));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64("BINUNICODE8"), "BINUNICODE8")));
        break;
      case 0x42: // BINBYTES 'B'
        stack.push(take(u32("BINBYTES"), "BINBYTES").slice());
        break;
      case 0x43: // SHORT_BINBYTES 'C'
        stack.push(take(u8("SHORT_BINBYTES"), "SHORT_BINBYTES").slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64("BINBYTES8"), "BINBYTES8").slice());
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64("BYTEARRAY8"), "BYTEARRAY8").slice());
        break;
      case 0x97: // NEXT_BUFFER
        throw fail("pickle uses out-of-band buffers (NEXT_BUFFER), which are not supported");
      case 0x98: // READONLY_BUFFER (no-op here)
        top();
        break;
      // ---- containers
      case 0x29: // EMPTY_TUPLE ')'
        stack.push([]);
        break;
      case 0x74: // TUPLE 't'
        pushAfterMark((items) => items);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST ']'
        stack.push([]);
        break;
      case 0x6c: // LIST 'l'
        pushAfterMark((items) => items);
        break;
      case 0x61: {
        // APPEND 'a'
        const v = pop();
        asList(top(), "APPEND").push(v);
        break;
      }
      case 0x65: {
        // APPENDS 'e'
        const items = popMark();
        const list = asList(top(), "APPENDS");
        for (const v of items) list.push(v);
        break;
      }
      case 0x7d: // EMPTY_DICT '}'
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT 'd'
        const items = popMark();
        if (items.length % 2) throw fail("pickle corrupt: DICT with an odd number of items");
        const m = new Map<unknown, unknown>();
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x73: {
        // SETITEM 's'
        const v = pop();
        const k = pop();
        asMap(top(), "SETITEM").set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const items = popMark();
        if (items.length % 2) throw fail("pickle corrupt: SETITEMS with an odd number of items");
        const m = asMap(top(), "SETITEMS");
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw fail("pickle corrupt: ADDITEMS on a non-set");
        for (const v of items) s.add(v);
        break;
      }
      case 0x91: // FROZENSET
        pushAfterMark((items) => new Set(items));
        break;
      // ---- memo
      case 0x70: // PUT 'p'
        memo.set(Number(parseInt10(line("PUT"), "PUT")), top());
        break;
      case 0x71: // BINPUT 'q'
        memo.set(u8("BINPUT"), top());
        break;
      case 0x72: // LONG_BINPUT 'r'
        memo.set(u32("LONG_BINPUT"), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET 'g'
        stack.push(memoGet(Number(parseInt10(line("GET"), "GET"))));
        break;
      case 0x68: // BINGET 'h'
        stack.push(memoGet(u8("BINGET")));
        break;
      case 0x6a: // LONG_BINGET 'j'
        stack.push(memoGet(u32("LONG_BINGET")));
        break;
      // ---- globals and objects
      case 0x63: {
        // GLOBAL 'c'
        const module = line("GLOBAL module");
        const name = line("GLOBAL name");
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string")
          throw fail("pickle corrupt: STACK_GLOBAL needs two strings");
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(newObj(pop(), args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        stack.push(newObj(pop(), args, kwargs));
        break;
      }
      case 0x69: {
        // INST 'i'
        const module = line("INST module");
        const name = line("INST name");
        const gl = resolveGlobal(module, name);
        pushAfterMark((items) => call(gl, items));
        break;
      }
      case 0x6f: {
        // OBJ 'o'
        const items = popMark();
        if (items.length === 0) throw fail("pickle corrupt: OBJ without a class");
        stack.push(call(items[0], items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD 'b'
        const state = pop();
        const obj = top();
        const gl = obj !== null && typeof obj === "object" ? creators.get(obj) : undefined;
        if (!gl?.build)
          throw fail(`pickle BUILD (__setstate__) on an object that does not support it (offset ${opPos})`);
        invoke(gl, () => gl.build!(obj, state), "BUILD of");
        break;
      }
      case 0x50: // PERSID 'P'
        stack.push(persistent(line("PERSID")));
        break;
      case 0x51: // BINPERSID 'Q'
        stack.push(persistent(pop()));
        break;
      case 0x82:
      case 0x83:
      case 0x84: // EXT1, EXT2, EXT4
        throw fail("pickle uses the copyreg extension registry (EXT opcodes), which is refused");
      default:
        throw fail(
          `unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} at offset ${opPos}`,
        );
    }
  }
}

function toIntValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Little-endian two's-complement integer. */
function signedLE(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: "\n",
  r: "\r",
  t: "\t",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
};

/** Decodes a protocol-0 STRING argument (a quoted Python 2 str repr). */
function unquote(s: string, fail: (msg: string) => Error): string {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q)
    throw fail("pickle corrupt: STRING argument is not quoted");
  const body = s.slice(1, -1);
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
    else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out += String.fromCharCode(Number.parseInt(m, 8) & 0xff);
      i += m.length - 1;
    } else out += `\\${e ?? ""}`;
  }
  return out;
}

/** Decodes a protocol-0 UNICODE argument (raw-unicode-escape: only \uXXXX and \UXXXXXXXX are escapes). */
function rawUnicodeEscape(s: string): string {
  return s.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (all: string, a: string | undefined, b: string | undefined) => {
      const cp = Number.parseInt((a ?? b)!, 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
    },
  );
}
