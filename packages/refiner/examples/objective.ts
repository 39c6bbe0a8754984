// FlowTurbo's refiner objective on a tiny SiT teacher, through the float64 reference backend.
// Run from packages/refiner: node --conditions=@flowturbo/source --import tsx examples/objective.ts
import { createReferenceBackend, toHost } from "@flowturbo/core";
import { proceduralWeights, type SiTConfig, syntheticSet } from "@flowturbo/sit";
import { refinerConfig, refinerFeeds, refinerObjective, STUDENT, TEACHER } from "@flowturbo/refiner";
import type { Tensor } from "@flowturbo/tensor";

const teacher: SiTConfig = {
  inputSize: 8,
  patchSize: 4,
  inChannels: 3,
  outChannels: 3,
  keepChannels: 3,
  hiddenSize: 32,
  depth: 1,
  numHeads: 2,
  numClasses: 3,
  mlpRatio: 4,
};
const student = refinerConfig(teacher); // depth 1 on concat[x, v]: 6 input channels
const { graph } = refinerObjective(teacher, student, 2);
const weights = proceduralWeights(graph); // parameters are named teacher.* and refiner.*
const feeds = refinerFeeds({ set: syntheticSet(4, 3, 8), batch: 2, seed: 0 })(0); // x1, x0, t, y, drop, dt
const session = await createReferenceBackend().load({ graph, weights });
const loss = (await toHost((await session.run(feeds, ["loss"])).loss)) as Tensor;
console.log(`${TEACHER}/${STUDENT} loss`, loss.toFloat64()[0]);
