import {
  featureStats,
  frechetDistanceDetailed,
  inceptionScore,
  precisionRecall,
  readStatsNpz,
  StatsAccumulator,
  statsNpzChunks,
} from "@flowturbo/metrics";
import { concatBytes } from "@flowturbo/tensor";

// Two sets of 64-d "features" (rows of a row-major [n, 64] array), uniform noise, the second shifted.
const dim = 64;
let seed = 1;
const random = () => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};
const rand = (n: number, shift: number) => Float32Array.from({ length: n * dim }, () => random() + shift);
const a = rand(1000, 0);
const b = rand(800, 0.1);

// Streaming statistics in float64, mergeable across shards.
const shard1 = new StatsAccumulator(dim).add(a.subarray(0, 500 * dim));
const shard2 = new StatsAccumulator(dim).add(a.subarray(500 * dim));
const statsA = shard1.merge(shard2).stats(); // mu, sigma (ddof 1), n = 1000
const statsB = featureStats(b, dim);

const r = frechetDistanceDetailed(statsA, statsB);
console.log(
  `FID ${r.value.toFixed(6)} = ${r.meanTerm.toFixed(6)} + ${r.traceSigma1.toFixed(3)} + ${r.traceSigma2.toFixed(3)} - 2 * ${r.traceSqrt.toFixed(3)}`,
);

// A stats file (mu, sigma, n) in memory and back.
const bytes = concatBytes(statsNpzChunks({ pool: statsA }));
const back = await readStatsNpz(bytes, { name: "stats.npz" });
console.log(`stats file: ${bytes.length} bytes, n = ${back.pool.n}`);

// Inception Score of logits (ADM: splits of 5000; here 10 splits of 100).
const logits = Float32Array.from({ length: 1000 * 10 }, (_, i) => ((i * 7919) % 13) / 3);
console.log(`IS ${inceptionScore(logits, 10, { splits: 10 }).mean.toFixed(4)}`);

// Precision / recall with k = 3 (ADM's ManifoldEstimator semantics).
const pr = await precisionRecall(a, 1000, b, 800, dim);
console.log(`precision ${pr.precision.toFixed(4)} recall ${pr.recall.toFixed(4)}`);
