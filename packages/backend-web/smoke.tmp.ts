import { conformanceCases } from "@flowturbo/core";
import { createWebBackend } from "./src";
const th = Number(process.argv[2]);
const b2 = createWebBackend({ ort: import("onnxruntime-web"), threads: th });
for (const c of conformanceCases().slice(0)) {
  const t1 = performance.now();
  const s = await b2.load({ graph: c.graph, weights: c.weights }, { providers: ["wasm"] });
  const t2 = performance.now();
  await s.run(c.feeds);
  const t3 = performance.now();
  await s.release();
  console.log(c.name, (t2 - t1).toFixed(0), (t3 - t2).toFixed(0), (performance.now() - t3).toFixed(0));
}
