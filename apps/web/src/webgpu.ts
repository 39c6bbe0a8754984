// Is WebGPU usable here, and if not, why (shown in the UI next to the provider in use).
import type { BackendChoice, WebGpuStatus } from "./protocol";

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string };
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

/** Checks navigator.gpu and asks for an adapter (works in pages and workers). */
export async function detectWebGpu(choice: BackendChoice = "auto"): Promise<WebGpuStatus> {
  if (choice === "wasm") return { available: false, reason: "WASM was chosen in the settings" };
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu)
    return {
      available: false,
      reason:
        "this browser has no WebGPU (navigator.gpu is missing: an older browser, a non-secure page, or WebGPU disabled)",
    };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { available: false, reason: `requestAdapter() failed: ${(e as Error).message}` };
  }
  if (!adapter) return { available: false, reason: "WebGPU is present but no GPU adapter was found" };
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(" ");
  return { available: true, adapter: name || "unnamed adapter" };
}
