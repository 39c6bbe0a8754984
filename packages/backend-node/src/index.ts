// @flowturbo/backend-node: ONNX Runtime for Node (CPU, CUDA, WebGPU/Dawn), sessions in a worker thread.
export {
  createNodeBackend,
  type LogLevel,
  type NodeBackend,
  type NodeBackendOptions,
  type NodeSession,
  type ValueInfo,
} from "./backend";
export { cudaProviderLibrary, ortBinaryDir } from "./paths";
