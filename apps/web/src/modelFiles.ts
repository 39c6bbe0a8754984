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

/** Reads a response body to the end, reporting progress; `signal` stops the download (AbortError). */
async function readBody(
  res: Response,
  file: string,
  cached: boolean,
  onProgress?: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<Uint8Array<ArrayBuffer>> {
  const header = res.headers.get("content-length");
  const total = header ? Number(header) : undefined;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const stop = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener("abort", stop, { once: true });
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    onProgress?.({ file, loaded, total, cached });
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      onProgress?.({ file, loaded, total, cached });
    }
  } finally {
    signal?.removeEventListener("abort", stop);
  }
  return concatBytes(chunks);
}

/**
 * Why `text` cannot be a model URL (undefined when it can): absolute http(s) URLs and paths on this
 * site are fine; text with spaces or another scheme is not a download address.
 */
export function modelUrlProblem(text: string): string | undefined {
  const t = text.trim();
  if (!t) return "enter a URL";
  const example = "give an address like https://example.org/model.safetensors or a path on this site";
  if (/\s/.test(t)) return `'${t}' is not a URL (it has spaces): ${example}`;
  let url: URL;
  try {
    url = new URL(t, "http://this.site/");
  } catch {
    return `'${t}' is not a URL: ${example}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:" && url.protocol !== "blob:")
    return `'${t}' is a ${url.protocol} address; models are downloaded over http(s): ${example}`;
  return undefined;
}

/**
 * The bytes of a model file. URLs: from Cache Storage if present, else fetched (and stored). Errors name
 * the URL and what went wrong (HTTP status, network failure, HTML instead of a model).
 */
export async function readModelFile(
  ref: FileRef,
  onProgress?: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const file = refName(ref);
  if ("file" in ref) {
    onProgress?.({ file, loaded: 0, total: ref.file.size, cached: false });
    const bytes = new Uint8Array(await ref.file.arrayBuffer());
    onProgress?.({ file, loaded: bytes.byteLength, total: bytes.byteLength, cached: false });
    return bytes;
  }
  const problem = modelUrlProblem(ref.url);
  if (problem) throw new Error(problem);
  const cache = await openCache();
  const hit = await cache?.match(ref.url);
  if (hit) return readBody(hit, file, true, onProgress, signal);
  let res: Response;
  try {
    res = await fetch(ref.url, { signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new Error(
      `could not download ${ref.url}: ${(e as Error).message} (network error or blocked by CORS)`,
    );
  }
  if (!res.ok) throw new Error(`could not download ${ref.url}: HTTP ${res.status} ${res.statusText}`.trim());
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("text/html"))
    throw new Error(
      `${ref.url} returned an HTML page, not a model file (.safetensors, .pt or .onnx): check the URL (many servers answer a missing file with a page)`,
    );
  const bytes = await readBody(res, file, false, onProgress, signal);
  if (cache) {
    try {
      await cache.put(
        ref.url,
        new Response(bytes as Uint8Array<ArrayBuffer>, {
          headers: {
            "content-type": type || "application/octet-stream",
            "content-length": String(bytes.byteLength),
          },
        }),
      );
    } catch {
      // quota exceeded or private mode: the model still works, it is just not kept
    }
  }
  return bytes;
}

/** What Cache Storage holds for this app: files and bytes (undefined without Cache Storage). */
export async function modelCacheUsage(): Promise<{ files: number; bytes: number } | undefined> {
  const cache = await openCache();
  if (!cache) return undefined;
  let bytes = 0;
  const keys = await cache.keys();
  for (const key of keys) {
    const res = await cache.match(key);
    const length = Number(res?.headers.get("content-length"));
    bytes += Number.isFinite(length) && length > 0 ? length : ((await res?.blob())?.size ?? 0);
  }
  return { files: keys.length, bytes };
}

/** Removes every cached model; returns how many entries were removed. */
export async function clearModelCache(): Promise<number> {
  const cache = await openCache();
  if (!cache) return 0;
  const keys = await cache.keys();
  await Promise.all(keys.map((k) => cache.delete(k)));
  return keys.length;
}
