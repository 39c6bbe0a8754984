// @flowturbo/backend-web: onnxruntime-web (native WebGPU build) with WASM fallback, for browsers, Web
// Workers and Node.
export {
  createWebBackend,
  type LogLevel,
  type OrtModule,
  type OrtModules,
  type ValueInfo,
  type WebBackend,
  type WebBackendOptions,
  type WebSession,
} from "./backend";
