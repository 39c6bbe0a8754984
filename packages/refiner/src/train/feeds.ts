// Training feeds of the refiner objective, from @flowturbo/sit's batch sampler and streams.
import { BatchSampler, type FeedOptions, stepFeeds, TRAIN_STREAMS } from "@flowturbo/sit";
import { Rng, Tensor } from "@flowturbo/tensor";

/** Feeds of the refiner objective: the base feeds plus dt ~ U[0, dtMax) per batch (docs/FLOWTURBO.md section 5). */
export function refinerFeeds(o: FeedOptions & { dtMax?: number }): (step: number) => Record<string, Tensor> {
  const sampler = new BatchSampler(o.set.length, o.batch, o.seed);
  const dtMax = o.dtMax ?? 0.12;
  return (step) => {
    const u = new Rng(o.seed).stream(TRAIN_STREAMS.dt, step).uniform(0, 1)[0];
    return { ...stepFeeds(o, sampler, step), dt: new Tensor("float32", [], Float32Array.of(u * dtMax)) };
  };
}
