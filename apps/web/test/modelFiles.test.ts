// Model downloads: progress from Content-Length, and the messages for a missing file, an HTML page
// instead of a model, and an unreachable server (Node has no Cache Storage: files are just read).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type DownloadProgress, readModelFile, refName } from "../src/modelFiles";

let server: Server;
let url: string;
let slowClosed: Promise<void> | undefined;
const BODY = new Uint8Array(300_000).map((_, i) => i % 251);

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/model.safetensors") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": BODY.byteLength });
      res.end(BODY);
    } else if (req.url === "/slow.safetensors") {
      // a download that never ends by itself: 64 KB now, then nothing until the client goes away
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": 10_000_000 });
      res.write(new Uint8Array(65_536));
      slowClosed = new Promise((resolve) => res.on("close", () => resolve()));
    } else if (req.url === "/page") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>not a model</html>");
    } else res.writeHead(404, "Not Found").end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

describe("readModelFile", () => {
  test("downloads with progress", async () => {
    const seen: DownloadProgress[] = [];
    const bytes = await readModelFile({ url: `${url}/model.safetensors` }, (p) => seen.push(p));
    expect(bytes).toEqual(BODY);
    expect(seen[0]).toMatchObject({
      file: "model.safetensors",
      loaded: 0,
      total: BODY.byteLength,
      cached: false,
    });
    expect(seen.at(-1)?.loaded).toBe(BODY.byteLength);
  });

  test("errors name the URL and the cause", async () => {
    await expect(readModelFile({ url: `${url}/missing.safetensors` })).rejects.toThrow(
      /could not download http:\S+\/missing\.safetensors: HTTP 404 Not Found/,
    );
    await expect(readModelFile({ url: `${url}/page` })).rejects.toThrow(
      /returned an HTML page, not a model file/,
    );
    await expect(readModelFile({ url: "http://127.0.0.1:1/x.onnx" })).rejects.toThrow(
      /could not download http:\/\/127\.0\.0\.1:1\/x\.onnx: .*network error/,
    );
  });

  test("a download stops when cancelled (AbortError), and the server sees the connection close", async () => {
    const abort = new AbortController();
    const seen: DownloadProgress[] = [];
    const read = readModelFile(
      { url: `${url}/slow.safetensors` },
      (p) => {
        seen.push(p);
        if (p.loaded > 0) abort.abort();
      },
      abort.signal,
    );
    await expect(read).rejects.toMatchObject({ name: "AbortError" });
    expect(seen.at(-1)?.loaded).toBeLessThan(10_000_000);
    await slowClosed;
  });

  test("text that is not a URL is refused before any download", async () => {
    await expect(readModelFile({ url: "not a url at all" })).rejects.toThrow(
      /'not a url at all' is not a URL \(it has spaces\)/,
    );
  });

  test("names shown for URLs and files", () => {
    expect(refName({ url: "https://h/models/sit%20xl.onnx?download=1" })).toBe("sit xl.onnx");
    expect(refName({ url: "/assets/base-CR8H.safetensors", name: "emoji base" })).toBe("emoji base");
    expect(refName({ file: new File([new Uint8Array(1)], "local.pt") })).toBe("local.pt");
  });
});
