// Counter-based random streams on Philox4x32-10. Every value is a pure function of
// (seed, stream id, subsequence, position): no hidden state, so any element can be computed alone, in any
// order, in any batch split. The exact layout is specified in ./README.md.

import { assertShape, numel, type Shape } from "../shape";
import { Tensor } from "../tensor";
import { mulhi32, philox4x32Into } from "./philox";
import { portableLog, sinCosTurn32Into } from "./portable-math";
import { fnv1a32 } from "./procedural";

/** A seed: an integer in [0, 2^64) (a number must be a safe integer, i.e. < 2^53). */
export type Seed = number | bigint;
/** A stream: a uint32 id, or a name whose id is fnv1a32(UTF-8 of the name). */
export type StreamName = string | number;

/** Stream of the initial-noise helpers {@link noiseForSample} / {@link noiseBatch}. */
export const NOISE_STREAM = "noise";
/** Stream of the default class labels of samples ({@link labelForSample} / {@link labelsForSamples}). */
export const LABEL_STREAM = "sample/label";

const TWO32 = 4294967296;
const TWO_M24 = 2 ** -24;
const TWO_M32 = 2 ** -32;
/** Largest word position + 1 a stream serves (block index < 2^51 keeps every position a safe integer). */
const MAX_WORDS = 2 ** 53;

/** The Philox key of a seed: [seed mod 2^32, floor(seed / 2^32)]. */
export function seedKey(seed: Seed): [number, number] {
  if (typeof seed === "bigint") {
    if (seed < 0n || seed >= 1n << 64n) throw new Error(`seed ${seed} is not in [0, 2^64)`);
    return [Number(seed & 0xffffffffn), Number(seed >> 32n)];
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`seed ${seed} must be a non-negative safe integer (or a bigint below 2^64)`);
  }
  return [seed >>> 0, Math.floor(seed / TWO32)];
}

/** The uint32 id of a stream: numbers are used as they are, names hash with fnv1a32 of their UTF-8. */
export function streamId(stream: StreamName): number {
  if (typeof stream === "string") return fnv1a32(stream);
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO32) {
    throw new Error(`stream id ${stream} is not a uint32 (use a string name or an integer in [0, 2^32))`);
  }
  return stream;
}

function checkUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= TWO32)
    throw new Error(`${what} ${value} is not a uint32`);
}

function checkRange(start: number, count: number, wordsPerElement: number, what: string): void {
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(count) || count < 0) {
    throw new Error(`${what}: start ${start} and count ${count} must be non-negative integers`);
  }
  if ((start + count) * wordsPerElement > MAX_WORDS) throw new Error(`${what}: positions beyond 2^53 words`);
}

/** floor(x * range / 2^64) for the 64-bit x = hi*2^32 + lo and 1 <= range <= 2^32: an integer in [0, range). */
function boundedInt(hi: number, lo: number, range: number): number {
  if (range === TWO32) return hi;
  const aHi = mulhi32(hi, range);
  const aLo = Math.imul(hi, range) >>> 0;
  const bHi = mulhi32(lo, range);
  return aHi + (aLo + bHi >= TWO32 ? 1 : 0);
}

/**
 * One random stream: the word sequence w[n] (n >= 0) of a (seed, stream id, subsequence) triple, where
 * w[4b + j] = Philox4x32-10(counter = [b mod 2^32, floor(b / 2^32), subsequence, streamId],
 * key = seedKey(seed))[j]. All methods are positional and stateless: `normal(s, n)` is always
 * `normal(0, s + n).subarray(s)`.
 */
export class RngStream {
  readonly key: readonly [number, number];
  readonly streamId: number;
  readonly subsequence: number;

  constructor(seed: Seed, stream: StreamName = 0, subsequence = 0) {
    this.key = Object.freeze(seedKey(seed));
    this.streamId = streamId(stream);
    checkUint32(subsequence, "subsequence");
    this.subsequence = subsequence;
  }

  /** Words w[start .. start+count). */
  words(start: number, count: number): Uint32Array {
    checkRange(start, count, 1, "words");
    const b0 = Math.floor(start / 4);
    const b1 = Math.ceil((start + count) / 4);
    const buf = new Uint32Array(4 * (b1 - b0));
    const [k0, k1] = this.key;
    for (let b = b0; b < b1; b++) {
      philox4x32Into(
        buf,
        4 * (b - b0),
        b >>> 0,
        Math.floor(b / TWO32),
        this.subsequence,
        this.streamId,
        k0,
        k1,
      );
    }
    const skip = start - 4 * b0;
    return skip === 0 && count === buf.length ? buf : buf.slice(skip, skip + count);
  }

  /** Uniform float32 in [0, 1): element i = (w[start+i] >>> 8) * 2^-24 (exact; never 1). */
  uniform(start: number, count: number): Float32Array {
    checkRange(start, count, 1, "uniform");
    const w = this.words(start, count);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = (w[i] >>> 8) * TWO_M24;
    return out;
  }

  /**
   * Standard normal float32 by Box-Muller. Element e belongs to pair p = floor(e/2), which uses words
   * a = w[2p], b = w[2p+1]: r = sqrt(-2 log((a+1) 2^-32)), theta = 2 pi b 2^-32; element 2p = r cos(theta),
   * element 2p+1 = r sin(theta); computed in float64 (portable log/sin/cos) then rounded to float32.
   */
  normal(start: number, count: number): Float32Array {
    checkRange(start, count, 2, "normal");
    const out = new Float32Array(count);
    if (count === 0) return out;
    const p0 = Math.floor(start / 2);
    const p1 = Math.floor((start + count - 1) / 2);
    const w = this.words(2 * p0, 2 * (p1 - p0 + 1));
    const sc = new Float64Array(2);
    for (let p = p0; p <= p1; p++) {
      const k = 2 * (p - p0);
      const r = Math.sqrt(-2 * portableLog((w[k] + 1) * TWO_M32));
      sinCosTurn32Into(w[k + 1], sc, 0);
      const e = 2 * p - start;
      if (e >= 0) out[e] = r * sc[1];
      if (e + 1 < count) out[e + 1] = r * sc[0];
    }
    return out;
  }

  /**
   * Integers uniform in [low, high) (int32 bounds, high - low <= 2^32): element i uses words
   * hi = w[2(start+i)], lo = w[2(start+i)+1] and is low + floor((hi*2^32 + lo) * (high-low) / 2^64)
   * (exact integer arithmetic; bias below (high-low)/2^64).
   */
  int(start: number, count: number, low: number, high: number): Int32Array {
    checkRange(start, count, 2, "int");
    if (
      !Number.isInteger(low) ||
      !Number.isInteger(high) ||
      low < -(2 ** 31) ||
      high > 2 ** 31 ||
      low >= high
    ) {
      throw new Error(`int: need integers -2^31 <= low < high <= 2^31, got [${low}, ${high})`);
    }
    const w = this.words(2 * start, 2 * count);
    const out = new Int32Array(count);
    const range = high - low;
    for (let i = 0; i < count; i++) out[i] = low + boundedInt(w[2 * i], w[2 * i + 1], range);
    return out;
  }

  /** 0/1 with P(1) = p: element i = 1 iff w[start+i] * 2^-32 < p (exact comparison in float64). */
  bernoulli(start: number, count: number, p: number): Uint8Array {
    checkRange(start, count, 1, "bernoulli");
    if (!(p >= 0 && p <= 1)) throw new Error(`bernoulli: probability ${p} is not in [0, 1]`);
    const w = this.words(start, count);
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = w[i] * TWO_M32 < p ? 1 : 0;
    return out;
  }

  /**
   * A uniformly random permutation of 0..n-1 (Fisher-Yates from the start of the stream): start from the
   * identity; for k = 0 .. n-2, i = n-1-k, j = int element k with range [0, i+1) (words w[2k], w[2k+1]),
   * swap entries i and j. Uses the stream's first 2(n-1) words: give permutations a stream of their own.
   */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 31) throw new Error(`permutation: bad length ${n}`);
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    if (n < 2) return perm;
    const w = this.words(0, 2 * (n - 1));
    for (let k = 0; k < n - 1; k++) {
      const i = n - 1 - k;
      const j = boundedInt(w[2 * k], w[2 * k + 1], i + 1);
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    return perm;
  }
}

/** A seeded generator: hands out independent streams by name (or uint32 id) and subsequence. */
export class Rng {
  readonly seed: Seed;
  readonly key: readonly [number, number];

  constructor(seed: Seed) {
    this.key = Object.freeze(seedKey(seed));
    this.seed = seed;
  }

  /** The stream (name, subsequence): e.g. `rng.stream("noise", sampleIndex)`, `rng.stream("labels")`. */
  stream(name: StreamName, subsequence = 0): RngStream {
    return new RngStream(this.seed, name, subsequence);
  }
}

/** Raw uint32 words [start, start+count) of stream `stream` (subsequence 0) of `seed`. */
export function randomWords(seed: Seed, stream: StreamName, start: number, count: number): Uint32Array {
  return new RngStream(seed, stream).words(start, count);
}

/** Uniform float32 in [0, 1), elements [start, start+count) of stream `stream` (subsequence 0). */
export function randomUniform(seed: Seed, stream: StreamName, start: number, count: number): Float32Array {
  return new RngStream(seed, stream).uniform(start, count);
}

/** Standard normal float32, elements [start, start+count) of stream `stream` (subsequence 0). */
export function randomNormal(seed: Seed, stream: StreamName, start: number, count: number): Float32Array {
  return new RngStream(seed, stream).normal(start, count);
}

/** Integers in [low, high), elements [start, start+count) of stream `stream` (subsequence 0). */
export function randomInt(
  seed: Seed,
  stream: StreamName,
  start: number,
  count: number,
  low: number,
  high: number,
): Int32Array {
  return new RngStream(seed, stream).int(start, count, low, high);
}

/** 0/1 with P(1) = p, elements [start, start+count) of stream `stream` (subsequence 0). */
export function randomBernoulli(
  seed: Seed,
  stream: StreamName,
  start: number,
  count: number,
  p: number,
): Uint8Array {
  return new RngStream(seed, stream).bernoulli(start, count, p);
}

/** A random permutation of 0..n-1 from stream `stream` (subsequence 0). */
export function randomPermutation(seed: Seed, stream: StreamName, n: number): Int32Array {
  return new RngStream(seed, stream).permutation(n);
}

/**
 * The standard-normal noise of one sample: `numel(shape)` float32 values (row-major) from stream
 * `stream` (default "noise"), subsequence `sampleIndex`, positions 0.. . Depends only on
 * (seed, sampleIndex, shape size, stream), never on how samples are batched.
 */
export function noiseForSample(
  seed: Seed,
  sampleIndex: number,
  shape: Shape,
  stream: StreamName = NOISE_STREAM,
): Float32Array {
  assertShape(shape, "noise shape");
  checkUint32(sampleIndex, "sample index");
  return new RngStream(seed, stream, sampleIndex).normal(0, numel(shape));
}

/**
 * Noise for samples firstIndex .. firstIndex+count-1 as a float32 tensor [count, ...shape] whose row i is
 * exactly `noiseForSample(seed, firstIndex + i, shape, stream)`.
 */
export function noiseBatch(
  seed: Seed,
  firstIndex: number,
  count: number,
  shape: Shape,
  stream: StreamName = NOISE_STREAM,
): Tensor<"float32"> {
  assertShape(shape, "noise shape");
  if (!Number.isInteger(count) || count < 0) throw new Error(`noiseBatch: bad count ${count}`);
  checkUint32(firstIndex, "first sample index");
  if (count > 0) checkUint32(firstIndex + count - 1, "last sample index");
  const n = numel(shape);
  const data = new Float32Array(count * n);
  for (let i = 0; i < count; i++) data.set(noiseForSample(seed, firstIndex + i, shape, stream), i * n);
  return new Tensor("float32", [count, ...shape], data);
}

/**
 * The default class label of one sample: element `sampleIndex` of stream `stream` (default
 * "sample/label", subsequence 0) drawn with `int(0, numClasses)`. Like the noise, it depends only on
 * (seed, sampleIndex, numClasses, stream): a shard of a job draws the same labels as the whole job.
 */
export function labelForSample(
  seed: Seed,
  sampleIndex: number,
  numClasses: number,
  stream: StreamName = LABEL_STREAM,
): number {
  return labelsForSamples(seed, sampleIndex, 1, numClasses, stream)[0];
}

/** Labels of samples firstIndex .. firstIndex+count-1: element i is `labelForSample(seed, firstIndex + i, ...)`. */
export function labelsForSamples(
  seed: Seed,
  firstIndex: number,
  count: number,
  numClasses: number,
  stream: StreamName = LABEL_STREAM,
): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 2 ** 31)
    throw new Error(`labels: numClasses must be an integer in [1, 2^31], got ${numClasses}`);
  checkRange(firstIndex, count, 2, "labels");
  return new RngStream(seed, stream).int(firstIndex, count, 0, numClasses);
}
