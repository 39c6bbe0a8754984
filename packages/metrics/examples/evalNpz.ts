import { createNodeBackend } from "@flowturbo/backend-node";
import { InceptionExtractor } from "@flowturbo/metrics";
import { evalFid, formatFidReport, loadInceptionStateDict } from "@flowturbo/metrics/node";

// What `flowturbo eval fid samples.npz VIRTUAL_imagenet256_labeled.npz` does.
const weights = process.env.FID_WEIGHTS ?? "pt_inception-2015-12-05-6726825d.pth";
const samples = process.env.SAMPLES ?? "samples.npz"; // ADM sample batch: arr_0 uint8 [N, 256, 256, 3]
const reference = process.env.REFERENCE ?? "VIRTUAL_imagenet256_labeled.npz"; // mu/sigma read, arr_0 not

const backend = createNodeBackend(); // ORT CPU; { providers: ["cuda", "cpu"] } on a GPU machine
const extractor = new InceptionExtractor(backend, await loadInceptionStateDict(weights), { batchSize: 32 });
try {
  const report = await evalFid(samples, reference, {
    extractor,
    onProgress: (path, done, total) => console.error(`${path}: ${done}/${total ?? "?"}`),
  });
  console.log(formatFidReport(report)); // or JSON.stringify(fidReportJson(report)) for --json
} finally {
  await extractor.release();
  await backend.close();
}
