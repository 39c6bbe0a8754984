// @flowturbo/refiner: FlowTurbo's velocity refiner (a depth-1 SiT on concat[x, v] that predicts the
// velocity offset late in sampling) and its training objective.
export * from "./config";
export * from "./network";
export * from "./train/objective";
export * from "./train/feeds";
