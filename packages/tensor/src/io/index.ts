// Tensor file formats: safetensors, npy/npz, PyTorch zip checkpoints (restricted unpickler), with
// random-access ByteSources for reading and ByteSinks / chunk generators for streaming writes.
// Browser-safe: no Node APIs here (file helpers live in "@flowturbo/tensor/node"). See ./README.md.

export * from "./byteSource";
export * from "./crc32";
export * from "./errors";
export * from "./npy";
export * from "./npz";
export * from "./pickle";
export * from "./safetensors";
export * from "./sink";
export * from "./torch";
export * from "./zip";
