// Float64 kernels of the reference interpreter, one per IR op. Clarity over speed: this is the oracle.
import type { DType } from "../dtype";
import { int, ints, matmulShape, reshapeTarget, sliceRange } from "../graph/infer";
import type { Attrs } from "../graph/attrs";
import { broadcastShapes, normAxis, numel, stridesOf } from "../shape";
import { Tensor } from "../tensor";
import { broadcastStrides, broadcastTo, type F64Array, f64, forEachIndex } from "./array";

export type Kernel = (
  inputs: F64Array[],
  attrs: Attrs,
  outTypes: { dtype: DType; shape: number[] }[],
) => F64Array[];

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for an oracle; use the series / continued fraction split.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = ax;
    let term = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for large |x|
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = ax + an / c;
    if (c === 0) c = 1e-300;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

const unaryFns: Record<string, (x: number) => number> = {
  Identity: (x) => x,
  Neg: (x) => -x,
  Abs: Math.abs,
  Exp: Math.exp,
  Log: Math.log,
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Tanh: Math.tanh,
  Sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  Sin: Math.sin,
  Cos: Math.cos,
  Relu: (x) => Math.max(x, 0),
  Erf: erf,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Sign: Math.sign,
  Not: (x) => (x ? 0 : 1),
};

const isInt = (d: DType) => d === "int64" || d === "int32" || d === "uint8";

const binaryFns: Record<string, (a: number, b: number, integer: boolean) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, integer) => (integer ? Math.trunc(a / b) : a / b),
  Pow: (a, b) => a ** b,
  Max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)),
  Min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b)),
  Equal: (a, b) => (a === b ? 1 : 0),
  Less: (a, b) => (a < b ? 1 : 0),
  Greater: (a, b) => (a > b ? 1 : 0),
  LessOrEqual: (a, b) => (a <= b ? 1 : 0),
  GreaterOrEqual: (a, b) => (a >= b ? 1 : 0),
  And: (a, b) => (a && b ? 1 : 0),
  Or: (a, b) => (a || b ? 1 : 0),
};

function elementwise(
  inputs: F64Array[],
  outType: { dtype: DType; shape: number[] },
  fn: (...v: number[]) => number,
): F64Array {
  const out = f64(outType.dtype, outType.shape);
  const srcs = inputs.map((x) => x.data);
  const same = inputs.every((x) => numel(x.shape) === out.data.length && x.shape.length === out.shape.length);
  if (same && inputs.length === 1) {
    for (let i = 0; i < out.data.length; i++) out.data[i] = fn(srcs[0][i]);
  } else if (same && inputs.length === 2) {
    for (let i = 0; i < out.data.length; i++) out.data[i] = fn(srcs[0][i], srcs[1][i]);
  } else {
    const strides = inputs.map((x) => broadcastStrides(x.shape, out.shape));
    const vals = new Array<number>(inputs.length);
    forEachIndex(out.shape, strides, (i, offs) => {
      for (let k = 0; k < srcs.length; k++) vals[k] = srcs[k][offs[k]];
      out.data[i] = fn(...vals);
    });
  }
  return out;
}

function castValue(v: number, to: DType): number {
  switch (to) {
    case "bool":
      return v !== 0 && !Number.isNaN(v) ? 1 : 0;
    case "int64":
    case "int32":
      return Math.trunc(v);
    case "uint8":
      return Math.trunc(v) & 0xff;
    default:
      return v; // float16/float32/float64 are all exact float64 in the oracle
  }
}

/** General transpose of a row-major array. */
function transposeData(x: F64Array, perm: readonly number[]): F64Array {
  const outShape = perm.map((p) => x.shape[p]);
  const inStrides = stridesOf(x.shape);
  const out = f64(x.dtype, outShape);
  forEachIndex(outShape, [perm.map((p) => inStrides[p])], (i, o) => {
    out.data[i] = x.data[o[0]];
  });
  return out;
}

/** [outer, axis, inner] decomposition used by axis-wise kernels. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [numel(shape.slice(0, axis)), shape[axis], numel(shape.slice(axis + 1))];
}

function matmul(a: F64Array, b: F64Array, dtype: DType): F64Array {
  const a2 = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const b2 = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const [m, k] = a2.slice(-2);
  const n = b2[b2.length - 1];
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  const out = f64(dtype, matmulShape("MatMul", a.shape, b.shape));
  const aS = broadcastStrides(a2.slice(0, -2), batch).map((s) => s * m * k);
  const bS = broadcastStrides(b2.slice(0, -2), batch).map((s) => s * k * n);
  const row = new Float64Array(n);
  forEachIndex(batch, [aS, bS], (bi, [ao, bo]) => {
    const oo = bi * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const av = a.data[ao + i * k + p];
        if (av === 0) continue;
        const bb = bo + p * n;
        for (let j = 0; j < n; j++) row[j] += av * b.data[bb + j];
      }
      out.data.set(row, oo + i * n);
    }
  });
  return out;
}

function conv(x: F64Array, w: F64Array, b: F64Array | undefined, attrs: Attrs, outShape: number[]): F64Array {
  const sp = x.shape.length - 2;
  if (sp !== 2 && sp !== 1)
    throw new Error(`Conv: only 1-D and 2-D convolutions are interpreted, got ${sp}-D`);
  // Treat 1-D as 2-D with height 1.
  const xs = sp === 1 ? [x.shape[0], x.shape[1], 1, x.shape[2]] : x.shape;
  const ws = sp === 1 ? [w.shape[0], w.shape[1], 1, w.shape[2]] : w.shape;
  const os = sp === 1 ? [outShape[0], outShape[1], 1, outShape[2]] : outShape;
  const str = ints(attrs, "strides", "Conv", Array(sp).fill(1));
  const pads = ints(attrs, "pads", "Conv", Array(2 * sp).fill(0));
  const dil = ints(attrs, "dilations", "Conv", Array(sp).fill(1));
  const [sh, sw] = sp === 1 ? [1, str[0]] : str;
  const [ph, pw] = sp === 1 ? [0, pads[0]] : [pads[0], pads[1]];
  const [dh, dw] = sp === 1 ? [1, dil[0]] : dil;
  const group = int(attrs, "group", "Conv", 1);
  const [N, C, H, W] = xs;
  const [M, Cg, KH, KW] = ws;
  const [, , OH, OW] = os;
  const Mg = M / group;
  const out = f64(x.dtype, outShape);
  for (let nIdx = 0; nIdx < N; nIdx++) {
    for (let m = 0; m < M; m++) {
      const g = Math.floor(m / Mg);
      const bias = b ? b.data[m] : 0;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = bias;
          for (let c = 0; c < Cg; c++) {
            const xc = (nIdx * C + g * Cg + c) * H * W;
            const wc = (m * Cg + c) * KH * KW;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                acc += x.data[xc + ih * W + iw] * w.data[wc + kh * KW + kw];
              }
            }
          }
          out.data[((nIdx * M + m) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return out;
}

function pool(x: F64Array, attrs: Attrs, outShape: number[], kind: "max" | "avg"): F64Array {
  if (x.shape.length !== 4) throw new Error("pooling: only 2-D pooling is interpreted");
  const op = kind === "max" ? "MaxPool" : "AveragePool";
  const [KH, KW] = ints(attrs, "kernel_shape", op);
  const [sh, sw] = ints(attrs, "strides", op, [1, 1]);
  const [ph, pw] = ints(attrs, "pads", op, [0, 0, 0, 0]);
  const includePad = int(attrs, "count_include_pad", op, 0) === 1;
  const [N, C, H, W] = x.shape;
  const [, , OH, OW] = outShape;
  const out = f64(x.dtype, outShape);
  for (let nc = 0; nc < N * C; nc++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let acc = kind === "max" ? Number.NEGATIVE_INFINITY : 0;
        let count = 0;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - ph + kh;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - pw + kw;
            const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
            if (inside) {
              const v = x.data[(nc * H + ih) * W + iw];
              acc = kind === "max" ? Math.max(acc, v) : acc + v;
              count++;
            } else if (includePad && ih < H + ph && iw < W + pw) {
              count++; // padded cell inside the padded extent counts in the divisor
            }
          }
        }
        out.data[(nc * OH + oh) * OW + ow] = kind === "max" ? acc : acc / count;
      }
    }
  }
  return out;
}

/** Source coordinate of output index `o` for ONNX Resize coordinate transformation modes. */
function sourceCoord(o: number, inSize: number, outSize: number, mode: string): number {
  const scale = outSize / inSize;
  switch (mode) {
    case "half_pixel":
      return (o + 0.5) / scale - 0.5;
    case "pytorch_half_pixel":
      return outSize > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case "align_corners":
      return outSize === 1 ? 0 : (o * (inSize - 1)) / (outSize - 1);
    case "asymmetric":
      return o / scale;
    default:
      throw new Error(`Resize: unsupported coordinate_transformation_mode '${mode}'`);
  }
}

function nearestIndex(c: number, mode: string, inSize: number): number {
  let i: number;
  switch (mode) {
    case "floor":
      i = Math.floor(c);
      break;
    case "ceil":
      i = Math.ceil(c);
      break;
    case "round_prefer_ceil":
      i = Math.floor(c + 0.5);
      break;
    default: // round_prefer_floor
      i = c % 1 === 0.5 ? Math.floor(c) : Math.round(c);
  }
  return Math.min(Math.max(i, 0), inSize - 1);
}

/** Separable resize: one axis at a time (linear = n-linear interpolation, as ONNX). */
function resize(x: F64Array, attrs: Attrs, outShape: number[]): F64Array {
  const mode = attrs.mode as string;
  const ctm = attrs.coordinate_transformation_mode as string;
  const nearest = attrs.nearest_mode as string;
  let cur = x;
  for (let axis = 0; axis < x.shape.length; axis++) {
    const inSize = cur.shape[axis];
    const outSize = outShape[axis];
    if (inSize === outSize) continue;
    const shape = [...cur.shape];
    shape[axis] = outSize;
    const next = f64(x.dtype, shape);
    const [outer, , inner] = around(cur.shape, axis);
    for (let o = 0; o < outSize; o++) {
      const c = sourceCoord(o, inSize, outSize, ctm);
      let i0: number;
      let i1: number;
      let w1: number;
      if (mode === "nearest") {
        i0 = i1 = nearestIndex(c, nearest, inSize);
        w1 = 0;
      } else {
        const cc = Math.min(Math.max(c, 0), inSize - 1);
        i0 = Math.floor(cc);
        i1 = Math.min(i0 + 1, inSize - 1);
        w1 = cc - i0;
      }
      for (let a = 0; a < outer; a++) {
        const src0 = (a * inSize + i0) * inner;
        const src1 = (a * inSize + i1) * inner;
        const dst = (a * outSize + o) * inner;
        for (let k = 0; k < inner; k++) {
          next.data[dst + k] = cur.data[src0 + k] * (1 - w1) + cur.data[src1 + k] * w1;
        }
      }
    }
    cur = next;
  }
  return cur;
}

function reduce(x: F64Array, attrs: Attrs, outShape: number[], kind: "sum" | "mean" | "max"): F64Array {
  const axes = ints(attrs, "axes", "Reduce").map((a) => normAxis(a, x.shape.length));
  const out = f64(x.dtype, outShape);
  out.data.fill(kind === "max" ? Number.NEGATIVE_INFINITY : 0);
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const oStrides = broadcastStrides(keptShape, x.shape);
  forEachIndex(x.shape, [oStrides], (i, [o]) => {
    const v = x.data[i];
    out.data[o] = kind === "max" ? Math.max(out.data[o], v) : out.data[o] + v;
  });
  if (kind === "mean") {
    const count = axes.reduce((acc, a) => acc * x.shape[a], 1);
    for (let i = 0; i < out.data.length; i++) out.data[i] /= count;
  }
  return out;
}

/** softmax(q_h k_h^T * scale) v_h per batch row and head; q [B,S,D], k [B,L,D], v [B,L,Dv] -> [B,S,Dv]. */
function multiHeadAttention(
  q: F64Array,
  k: F64Array,
  v: F64Array,
  attrs: Attrs,
  outShape: number[],
): F64Array {
  const heads = int(attrs, "num_heads", "MultiHeadAttention");
  const [b, s, d] = q.shape;
  const l = k.shape[1];
  const dv = v.shape[2];
  const hd = d / heads;
  const hv = dv / heads;
  // the scale in the graph's precision, as the plain form's scalar constant holds it
  const scale = Tensor.from(
    q.dtype,
    [],
    [(attrs.scale as number | undefined) ?? 1 / Math.sqrt(hd)],
  ).toFloat64()[0];
  const out = f64(q.dtype, outShape);
  const p = new Float64Array(l);
  for (let n = 0; n < b; n++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < s; i++) {
        const qi = (n * s + i) * d + h * hd;
        let m = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < l; j++) {
          const kj = (n * l + j) * d + h * hd;
          let dot = 0;
          for (let c = 0; c < hd; c++) dot += q.data[qi + c] * k.data[kj + c];
          p[j] = dot * scale;
          m = Math.max(m, p[j]);
        }
        let sum = 0;
        for (let j = 0; j < l; j++) {
          p[j] = Math.exp(p[j] - m);
          sum += p[j];
        }
        const oi = (n * s + i) * dv + h * hv;
        for (let j = 0; j < l; j++) {
          const w = p[j] / sum;
          const vj = (n * l + j) * dv + h * hv;
          for (let c = 0; c < hv; c++) out.data[oi + c] += w * v.data[vj + c];
        }
      }
    }
  }
  return out;
}

export const KERNELS: Record<string, Kernel> = {
  Constant: (_in, attrs) => {
    const t = attrs.value as Tensor;
    return [f64(t.dtype, t.shape, t.toFloat64())];
  },
  Cast: ([x], attrs) => {
    const to = attrs.to as DType;
    return [
      f64(
        to,
        x.shape,
        x.data.map((v) => castValue(v, to)),
      ),
    ];
  },
  Where: (inputs, _a, [t]) => [elementwise(inputs, t, (c, a, b) => (c ? a : b))],
  MatMul: ([a, b], _a, [t]) => [matmul(a, b, t.dtype)],
  Gemm: ([a, b, c], attrs, [t]) => {
    const at = int(attrs, "transA", "Gemm", 0) ? transposeData(a, [1, 0]) : a;
    const bt = int(attrs, "transB", "Gemm", 0) ? transposeData(b, [1, 0]) : b;
    const y = matmul(at, bt, t.dtype);
    const alpha = (attrs.alpha as number | undefined) ?? 1;
    const beta = (attrs.beta as number | undefined) ?? 1;
    if (alpha !== 1) for (let i = 0; i < y.data.length; i++) y.data[i] *= alpha;
    if (c) {
      const cb = broadcastTo(c, y.shape);
      for (let i = 0; i < y.data.length; i++) y.data[i] += beta * cb[i];
    }
    return [y];
  },
  Softmax: ([x], attrs) => {
    const axis = normAxis(int(attrs, "axis", "Softmax", -1), x.shape.length);
    const [outer, n, inner] = around(x.shape, axis);
    const out = f64(x.dtype, x.shape);
    for (let a = 0; a < outer; a++) {
      for (let k = 0; k < inner; k++) {
        const base = a * n * inner + k;
        let m = Number.NEGATIVE_INFINITY;
        for (let i = 0; i < n; i++) m = Math.max(m, x.data[base + i * inner]);
        let s = 0;
        for (let i = 0; i < n; i++) {
          const e = Math.exp(x.data[base + i * inner] - m);
          out.data[base + i * inner] = e;
          s += e;
        }
        for (let i = 0; i < n; i++) out.data[base + i * inner] /= s;
      }
    }
    return [out];
  },
  LayerNormalization: ([x, scale, bias], attrs) => {
    const axis = normAxis(int(attrs, "axis", "LayerNormalization", -1), x.shape.length);
    const eps = attrs.epsilon as number;
    const normShape = x.shape.slice(axis);
    const n = numel(normShape);
    const outer = x.data.length / n;
    const s = broadcastTo(scale, normShape);
    const b = bias ? broadcastTo(bias, normShape) : undefined;
    const out = f64(x.dtype, x.shape);
    for (let a = 0; a < outer; a++) {
      const base = a * n;
      let mean = 0;
      for (let i = 0; i < n; i++) mean += x.data[base + i];
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (x.data[base + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / n + eps);
      for (let i = 0; i < n; i++)
        out.data[base + i] = (x.data[base + i] - mean) * inv * s[i] + (b ? b[i] : 0);
    }
    return [out];
  },
  FastGelu: ([x, bias]) => {
    const d = x.shape[x.shape.length - 1];
    const out = f64(x.dtype, x.shape);
    // the constants in the graph's precision, as F.gelu(u, "tanh") holds them (scalar constants)
    const [a, c] = Tensor.from(x.dtype, [2], [0.044715, Math.sqrt(2 / Math.PI)]).toFloat64();
    for (let i = 0; i < x.data.length; i++) {
      const u = x.data[i] + (bias ? bias.data[i % d] : 0);
      out.data[i] = u * 0.5 * (Math.tanh((u + u * u * u * a) * c) + 1);
    }
    return [out];
  },
  MultiHeadAttention: ([q, k, v], attrs, [t]) => [multiHeadAttention(q, k, v, attrs, t.shape)],
  Conv: ([x, w, b], attrs, [t]) => [conv(x, w, b, attrs, t.shape)],
  MaxPool: ([x], attrs, [t]) => [pool(x, attrs, t.shape, "max")],
  AveragePool: ([x], attrs, [t]) => [pool(x, attrs, t.shape, "avg")],
  GlobalAveragePool: ([x], _a, [t]) => {
    const [n, c] = x.shape;
    const hw = x.data.length / (n * c);
    const out = f64(x.dtype, t.shape);
    for (let i = 0; i < n * c; i++) {
      let s = 0;
      for (let k = 0; k < hw; k++) s += x.data[i * hw + k];
      out.data[i] = s / hw;
    }
    return [out];
  },
  Resize: ([x], attrs, [t]) => [resize(x, attrs, t.shape)],
  Pad: ([x], attrs, [t]) => {
    const pads = ints(attrs, "pads", "Pad");
    const value = (attrs.value as number | undefined) ?? 0;
    const out = f64(x.dtype, t.shape);
    out.data.fill(value);
    const oStrides = stridesOf(t.shape);
    const start = pads.slice(0, x.shape.length).reduce((acc, p, i) => acc + p * oStrides[i], 0);
    forEachIndex(x.shape, [oStrides], (i, [o]) => {
      out.data[start + o] = x.data[i];
    });
    return [out];
  },
  Reshape: ([x], attrs) => [
    f64(x.dtype, reshapeTarget("Reshape", x.shape, ints(attrs, "shape", "Reshape")), x.data),
  ],
  Transpose: ([x], attrs) => [transposeData(x, ints(attrs, "perm", "Transpose"))],
  Concat: (inputs, attrs, [t]) => {
    const axis = normAxis(int(attrs, "axis", "Concat"), t.shape.length);
    const out = f64(t.dtype, t.shape);
    const [outer, total, inner] = around(t.shape, axis);
    let off = 0;
    for (const x of inputs) {
      const d = x.shape[axis];
      for (let a = 0; a < outer; a++) {
        out.data.set(x.data.subarray(a * d * inner, (a + 1) * d * inner), (a * total + off) * inner);
      }
      off += d;
    }
    return [out];
  },
  Slice: ([x], attrs, [t]) => {
    const starts = ints(attrs, "starts", "Slice");
    const axes = ints(
      attrs,
      "axes",
      "Slice",
      starts.map((_, i) => i),
    ).map((a) => normAxis(a, x.shape.length));
    const ends = ints(attrs, "ends", "Slice");
    const steps = ints(
      attrs,
      "steps",
      "Slice",
      starts.map(() => 1),
    );
    const inStrides = stridesOf(x.shape);
    let base = 0;
    const strides = [...inStrides];
    axes.forEach((a, i) => {
      const [s, , st] = sliceRange(x.shape[a], starts[i], ends[i], steps[i]);
      base += s * inStrides[a];
      strides[a] = inStrides[a] * st;
    });
    const out = f64(x.dtype, t.shape);
    forEachIndex(t.shape, [strides], (i, [o]) => {
      out.data[i] = x.data[base + o];
    });
    return [out];
  },
  Split: ([x], attrs, types) => {
    const axis = normAxis(int(attrs, "axis", "Split", 0), x.shape.length);
    const [outer, total, inner] = around(x.shape, axis);
    let off = 0;
    return types.map((t) => {
      const d = t.shape[axis];
      const out = f64(t.dtype, t.shape);
      for (let a = 0; a < outer; a++) {
        out.data.set(
          x.data.subarray((a * total + off) * inner, (a * total + off + d) * inner),
          a * d * inner,
        );
      }
      off += d;
      return out;
    });
  },
  Gather: ([x, idx], attrs, [t]) => {
    const axis = normAxis(int(attrs, "axis", "Gather", 0), x.shape.length);
    const [outer, n, inner] = around(x.shape, axis);
    const out = f64(x.dtype, t.shape);
    const m = idx.data.length;
    for (let a = 0; a < outer; a++) {
      for (let j = 0; j < m; j++) {
        let i = idx.data[j];
        if (i < 0) i += n;
        if (!(i >= 0 && i < n)) throw new Error(`Gather: index ${idx.data[j]} out of range [0, ${n})`);
        out.data.set(x.data.subarray((a * n + i) * inner, (a * n + i + 1) * inner), (a * m + j) * inner);
      }
    }
    return [out];
  },
  Unsqueeze: ([x], _a, [t]) => [f64(x.dtype, t.shape, x.data)],
  Squeeze: ([x], _a, [t]) => [f64(x.dtype, t.shape, x.data)],
  Expand: ([x], _a, [t]) => [f64(x.dtype, t.shape, broadcastTo(x, t.shape))],
  ReduceSum: ([x], attrs, [t]) => [reduce(x, attrs, t.shape, "sum")],
  ReduceMean: ([x], attrs, [t]) => [reduce(x, attrs, t.shape, "mean")],
  ReduceMax: ([x], attrs, [t]) => [reduce(x, attrs, t.shape, "max")],
};

for (const [name, fn] of Object.entries(unaryFns)) {
  KERNELS[name] = (inputs, _a, [t]) => [elementwise(inputs, t, fn)];
}
for (const [name, fn] of Object.entries(binaryFns)) {
  KERNELS[name] = (inputs, _a, [t]) => {
    const integer = isInt(inputs[0].dtype);
    return [elementwise(inputs, t, (a, b) => fn(a, b, integer))];
  };
}

export function toTensor(x: F64Array): Tensor {
  // Float values stay float64: the oracle does not round to the graph's float dtype.
  const isF = x.dtype === "float32" || x.dtype === "float16" || x.dtype === "float64";
  return isF ? new Tensor("float64", x.shape, x.data) : Tensor.from(x.dtype, x.shape, x.data);
}
