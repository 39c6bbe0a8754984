// Bit-reproducible float64 log and sin/cos. ECMAScript leaves Math.log/sin/cos "implementation-approximated"
// (V8, SpiderMonkey and JavaScriptCore may differ in the last bit), while + - * / and Math.sqrt are exactly
// rounded IEEE-754 operations. These functions use only the latter, so they give the same bits in every
// engine. Algorithms and coefficients are fdlibm's (Sun Microsystems, 1993; e_log.c, k_sin.c, k_cos.c), whose
// error is below 1 ulp.

/** The float64 with the given high and low 32-bit words (fdlibm lists its constants this way). */
function fromBits(hi: number, lo: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, hi);
  v.setUint32(4, lo);
  return v.getFloat64(0);
}

// fdlibm e_log.c (constants given by their bit patterns; decimal values in the comments)
const LN2_HI = fromBits(0x3fe62e42, 0xfee00000); // 6.9314718036912381649e-1
const LN2_LO = fromBits(0x3dea39ef, 0x35793c76); // 1.90821492927058770002e-10
const LG1 = fromBits(0x3fe55555, 0x55555593); // 6.66666666666673513e-1
const LG2 = fromBits(0x3fd99999, 0x9997fa04); // 3.999999999940941908e-1
const LG3 = fromBits(0x3fd24924, 0x94229359); // 2.857142874366239149e-1
const LG4 = fromBits(0x3fcc71c5, 0x1d8e78af); // 2.222219843214978396e-1
const LG5 = fromBits(0x3fc74664, 0x96cb03de); // 1.818357216161805012e-1
const LG6 = fromBits(0x3fc39a09, 0xd078c69f); // 1.531383769920937332e-1
const LG7 = fromBits(0x3fc2f112, 0xdf3e5244); // 1.479819860511658591e-1
// fdlibm k_sin.c
const S1 = fromBits(0xbfc55555, 0x55555549); // -1.66666666666666324348e-1
const S2 = fromBits(0x3f811111, 0x1110f8a6); // 8.33333333332248946124e-3
const S3 = fromBits(0xbf2a01a0, 0x19c161d5); // -1.98412698298579493134e-4
const S4 = fromBits(0x3ec71de3, 0x57b1fe7d); // 2.75573137070700676789e-6
const S5 = fromBits(0xbe5ae5e6, 0x8a2b9ceb); // -2.50507602534068634195e-8
const S6 = fromBits(0x3de5d93a, 0x5acfd57c); // 1.58969099521155010221e-10
// fdlibm k_cos.c
const C1 = fromBits(0x3fa55555, 0x5555554c); // 4.16666666666666019037e-2
const C2 = fromBits(0xbf56c16c, 0x16c15177); // -1.38888888888741095749e-3
const C3 = fromBits(0x3efa01a0, 0x19cb1590); // 2.48015872894767294178e-5
const C4 = fromBits(0xbe927e4f, 0x809c52ad); // -2.75573143513906633035e-7
const C5 = fromBits(0x3e21ee9e, 0xbdb4b1c4); // 2.0875723212981748279e-9
const C6 = fromBits(0xbda8fae9, 0xbe8838d4); // -1.13596475577881948265e-11

const TWO54 = 2 ** 54;
const SQRT2 = fromBits(0x3ff6a09e, 0x667f3bcd); // sqrt(2) rounded to nearest
const view = new DataView(new ArrayBuffer(8));

/**
 * Natural logarithm (fdlibm __ieee754_log, always the `hfsq` branch), error < 1 ulp, bit-identical across
 * JavaScript engines. log(0) = -Infinity, log(x < 0) = NaN, log(Infinity) = Infinity.
 */
export function portableLog(x: number): number {
  if (Number.isNaN(x) || x < 0) return Number.NaN;
  if (x === 0) return Number.NEGATIVE_INFINITY;
  if (x === Number.POSITIVE_INFINITY) return x;
  let k = 0;
  if (x < 2 ** -1022) {
    x *= TWO54; // subnormal: scale up (exact)
    k = -54;
  }
  // x = 2^e * m with m in [1, 2): read e from the bits, build m exactly.
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const e = (hi >>> 20) - 1023;
  view.setUint32(0, (hi & 0x000fffff) | 0x3ff00000);
  let m = view.getFloat64(0);
  k += e;
  if (m > SQRT2) {
    m *= 0.5; // exact; now m in (sqrt(2)/2, 1)
    k += 1;
  }
  const f = m - 1; // exact (Sterbenz)
  if (f === 0) return k === 0 ? 0 : k * LN2_HI + k * LN2_LO;
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  const hfsq = 0.5 * f * f;
  if (k === 0) return f - (hfsq - s * (hfsq + r));
  return k * LN2_HI - (hfsq - (s * (hfsq + r) + k * LN2_LO) - f);
}

function kernelSin(x: number): number {
  const z = x * x;
  const w = z * z;
  const r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
  const v = z * x;
  return x + v * (S1 + z * r);
}

function kernelCos(x: number): number {
  const z = x * x;
  const w = z * z;
  const r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
  const hz = 0.5 * z;
  const v = 1 - hz;
  return v + (1 - v - hz + z * r);
}

/** pi / 2^31: turns a 32-bit fraction of a full turn into radians (exact power-of-two scaling of Math.PI). */
const RAD_PER_U32 = Math.PI / 2147483648;

/**
 * Writes sin(theta) to out[offset] and cos(theta) to out[offset + 1] for theta = 2*pi*w/2^32, `w` a uint32
 * (a fraction of a full turn). The quadrant comes from the integer `w` (exact), so only the reduced angle
 * |x| <= pi/4 goes through fdlibm's kernels.
 */
export function sinCosTurn32Into(w: number, out: Float64Array, offset: number): void {
  // nearest quadrant q = round(w / 2^30) in 0..4, remainder r in [-2^29, 2^29] (exact integers)
  const q = Math.floor((w + 0x20000000) / 0x40000000);
  const r = w - q * 0x40000000;
  const x = r * RAD_PER_U32;
  const s = r === 0 ? 0 : kernelSin(x);
  const c = r === 0 ? 1 : kernelCos(x);
  switch (q & 3) {
    case 0:
      out[offset] = s;
      out[offset + 1] = c;
      break;
    case 1:
      out[offset] = c;
      out[offset + 1] = 0 - s; // 0 - s, not -s: +0 rather than -0 at exact quadrant points
      break;
    case 2:
      out[offset] = 0 - s;
      out[offset + 1] = 0 - c;
      break;
    default:
      out[offset] = 0 - c;
      out[offset + 1] = s;
  }
}

/**
 * [sin(theta), cos(theta)] for theta = 2*pi*w/2^32, `w` a uint32: error about 1 ulp of the reduced angle,
 * bit-identical across JavaScript engines.
 */
export function portableSinCos2Pi32(w: number): [number, number] {
  if (!Number.isInteger(w) || w < 0 || w > 0xffffffff)
    throw new Error(`portableSinCos2Pi32: ${w} is not a uint32`);
  const out = new Float64Array(2);
  sinCosTurn32Into(w, out, 0);
  return [out[0], out[1]];
}
