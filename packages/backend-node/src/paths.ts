// Locations of onnxruntime-node's native libraries (no ORT import: safe to use from the caller's thread).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Where onnxruntime-node keeps its native libraries for this platform. */
export function ortBinaryDir(): string {
  const pkg = createRequire(import.meta.url).resolve("onnxruntime-node/package.json");
  return join(dirname(pkg), "bin", "napi-v6", process.platform, process.arch);
}

/** The CUDA provider library onnxruntime-node needs (downloaded by its install script, not bundled). */
export function cudaProviderLibrary(): string | undefined {
  if (process.platform === "linux") return join(ortBinaryDir(), "libonnxruntime_providers_cuda.so");
  if (process.platform === "win32") return join(ortBinaryDir(), "onnxruntime_providers_cuda.dll");
  return undefined;
}
