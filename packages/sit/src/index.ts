// @flowturbo/sit: the SiT network family as @flowturbo/tensor graphs (the base model; the FlowTurbo
// refiner is a depth-1 member of the family, see @flowturbo/refiner), its checkpoints and its training.
export * from "./config";
export * from "./network";
export * from "./weights";
export * from "./checkpoint";
export * from "./procedural";
export * from "./train/index";
export * from "./samplingDefaults";
