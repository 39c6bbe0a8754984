// Child process of the benchmark: reads mu/sigma (and mu_s/sigma_s) from an npz and reports its peak
// RSS (process.resourceUsage().maxRSS). With --baseline it only loads the same modules.
import { readStatsFile } from "../src/node";

const [path, mode] = process.argv.slice(2);
const t0 = performance.now();
let summary: Record<string, unknown> = {};
if (mode !== "--baseline") {
  const stats = await readStatsFile(path);
  let trace = 0;
  for (let i = 0; i < stats.pool.dim; i++) trace += stats.pool.sigma[i * stats.pool.dim + i];
  summary = { dim: stats.pool.dim, dimSpatial: stats.spatial?.dim, traceSigma: trace, mu0: stats.pool.mu[0] };
}
const seconds = (performance.now() - t0) / 1000;
const maxRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ ...summary, seconds, maxRssMB })}\n`);
