// Model bytes from a URL or a picked file. URLs are kept in Cache Storage ("flowturbo-models") so a
// model is downloaded once; downloads report progress. Works in pages and workers.
import { concatBytes } from "@flowturbo/tensor";
import type { FileRef } from "./protocol";

export const MODEL_CACHE = "flowturbo-models";

export interface DownloadProgress {
  file: string;
  loaded: number;
  /** From Content-Length, when the server sends it. */
  total?: number;
  cached: boolean;
}

/** The name of a file reference in messages: the URL's last path segment or the file name. */
export function refName(ref: FileRef): string {
  if ("file" in ref) return ref.file.name;
  if (ref.name) return ref.name;
  try {
    const path = new URL(ref.url, "http://x/").pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) || ref.url;
  } catch {
    return ref.url;
  }
}

async function openCache(): Promise<Cache | undefined> {
  // Cache Storage needs a secure context (https or localhost); without it, downloads are not kept
  if (typeof caches === "undefined") return undefined;
  try {
    return await caches.open(MODEL_CACHE);
  } catch {
    return undefined;
  }
}

/** Reads a response body to the end, reporting progress. */
async function readBody(
  res: Response,
  file: string,
  cached: boolean,
  onProgress?: (p: DownloadProgress) => void,
): Promise<Uint8Array<ArrayBuffer>> {
  const header = res.headers.get("content-length");
  const total = header ? Number(header) : undefined;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ file, loaded, total, cached });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.({ file, loaded, total, cached });
  }
  return concatBytes(chunks);
}

/**
 * The bytes of a model file. URLs: from Cache Storage if present, else fetched (and stored). Errors name
 * the URL and what went wrong (HTTP status, network failure, HTML instead of a model).
 */
export async function readModelFile(
  ref: FileRef,
  onProgress?: (p: DownloadProgress) => void,
): Promise<Uint8Array> {
  const file = refName(ref);
  if ("file" in ref) {
    onProgress?.({ file, loaded: 0, total: ref.file.size, cached: false });
    const bytes = new Uint8Array(await ref.file.arrayBuffer());
    onProgress?.({ file, loaded: bytes.byteLength, total: bytes.byteLength, cached: false });
    return bytes;
  }
  const cache = await openCache();
  const hit = await cache?.match(ref.url);
  if (hit) return readBody(hit, file, true, onProgress);
  let res: Response;
  try {
    res = await fetch(ref.url);
  } catch (e) {
    throw new Error(
      `could not download ${ref.url}: ${(e as Error).message} (network error or blocked by CORS)`,
    );
  }
  if (!res.ok) throw new Error(`could not download ${ref.url}: HTTP ${res.status} ${res.statusText}`.trim());
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("text/html"))
    throw new Error(
      `${ref.url} returned an HTML page, not a model file (.safetensors, .pt or .onnx): check the URL`,
    );
  const bytes = await readBody(res, file, false, onProgress);
  if (cache) {
    try {
      await cache.put(
        ref.url,
        new Response(bytes as Uint8Array<ArrayBuffer>, {
          headers: { "content-type": type || "application/octet-stream" },
        }),
      );
    } catch {
      // quota exceeded or private mode: the model still works, it is just not kept
    }
  }
  return bytes;
}

/** Removes every cached model; returns how many entries were removed. */
export async function clearModelCache(): Promise<number> {
  const cache = await openCache();
  if (!cache) return 0;
  const keys = await cache.keys();
  await Promise.all(keys.map((k) => cache.delete(k)));
  return keys.length;
}
