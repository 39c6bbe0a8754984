// `flowturbo sample` without --shard: the run's samples batch slot by batch slot through the pipeline,
// each slot written as it comes (a PNG grid at the end), so memory does not grow with --n; progress per
// step across batches; NFE per sample in the summary. An error (non-finite samples, a failed write)
// leaves no output that looks complete.
import type { FlowTurboPipeline, GenerateParams, Generation, TransferCounts } from "@flowturbo/pipeline";
import { NonFiniteSamplesError } from "@flowturbo/pipeline";
import type { SafetensorsWriter } from "@flowturbo/tensor/node";
import type { CommandContext } from "./cli";
import { type ImageOutput, ImageWriter, openLatentsWriter } from "./outputs";
import { ProgressBar, SamplingProgress } from "./progress";
import { batchChunks } from "./sampleShard";

export interface PlainRun {
  pipeline: FlowTurboPipeline;
  /** The base model's file name, for messages. */
  file: string;
  /** The whole run's request (labels of every sample); sampled in slots of its batch unless it has noise. */
  request: GenerateParams;
  images?: ImageOutput;
  latents?: string;
}

export interface PlainRunResult {
  nfe: { base: number; refiner: number };
  transfers: TransferCounts | null;
  msSampling: number;
  msDecode: number;
  provider: Generation["provider"];
}

function addTransfers(a: TransferCounts | null, b: TransferCounts | undefined): TransferCounts | null {
  if (!b) return a;
  if (!a) return { ...b, locations: [...b.locations] };
  return {
    stateUploads: a.stateUploads + b.stateUploads,
    downloads: a.downloads + b.downloads,
    stepDownloads: a.stepDownloads + b.stepDownloads,
    hostOutputs: a.hostOutputs + b.hostOutputs,
    runs: a.runs + b.runs,
    locations: [...new Set([...a.locations, ...b.locations])],
  };
}

export async function runPlainSamples(ctx: CommandContext, o: PlainRun): Promise<PlainRunResult> {
  const { pipeline, request } = o;
  const labels = request.labels;
  const n = labels.length;
  const batch = pipeline.batchSize(request);
  // aligned runs go slot by slot (each slot's bits are those of the whole run); given noise is in memory
  // already and runs as one request
  const requests: [number, GenerateParams][] = request.noise
    ? [[0, request]]
    : [...batchChunks(0, n, batch)].map(([g, end]) => [
        g,
        { ...request, labels: labels.slice(g, end), firstIndex: g, batch },
      ]);
  const images = o.images ? new ImageWriter(o.images, n) : undefined;
  let latents: SafetensorsWriter | undefined;
  const progress = new SamplingProgress(new ProgressBar(ctx.stderr, "samples"), n, batch);
  const result: PlainRunResult = {
    nfe: { base: 0, refiner: 0 },
    transfers: null,
    msSampling: 0,
    msDecode: 0,
    provider: "cpu",
  };
  try {
    if (o.latents) latents = await openLatentsWriter(o.latents, pipeline.sampleShape, labels);
    for (const [first, r] of requests) {
      const g = await pipeline.generate(r, { onProgress: progress.hook(first) });
      result.msSampling += g.timings.sampling;
      result.msDecode += g.timings.decode;
      result.provider = g.provider;
      result.transfers = addTransfers(result.transfers, g.transfers);
      await latents?.append("latents", g.latents.data);
      await images?.add(g.images ?? g.latents, r.labels);
    }
    progress.finish();
    await latents?.close();
    await images?.close();
  } catch (e) {
    progress.finish();
    await latents?.abort();
    await images?.abort();
    if (e instanceof NonFiniteSamplesError)
      throw new Error(`${o.file}: ${e.message} (check the file: flowturbo models verify)`, { cause: e });
    throw e;
  }
  result.nfe = progress.nfe;
  return result;
}
