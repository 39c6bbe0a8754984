// The browser decoding path with createImageBitmap / OffscreenCanvas stubbed (no browser here): checks
// the options passed, the RGBA -> RGB conversion and the ImageIO wiring.
import { afterEach, describe, expect, it, vi } from "vitest";
import { browserImageIO, decodeImageBrowser, ImageDataset } from "../src/index";

afterEach(() => {
  vi.unstubAllGlobals();
});

function stubCanvas(width: number, height: number, rgba: Uint8ClampedArray) {
  const calls: unknown[] = [];
  let closed = false;
  vi.stubGlobal("createImageBitmap", async (blob: Blob, opts: unknown) => {
    calls.push(opts, blob.size);
    return {
      width,
      height,
      close: () => {
        closed = true;
      },
    };
  });
  vi.stubGlobal(
    "OffscreenCanvas",
    class {
      constructor(
        readonly width: number,
        readonly height: number,
      ) {}
      getContext() {
        return {
          drawImage: () => undefined,
          getImageData: () => ({ data: rgba, width, height }),
        };
      }
    },
  );
  return { calls, closed: () => closed };
}

describe("decodeImageBrowser", () => {
  it("asks for unconverted, unpremultiplied pixels and drops alpha", async () => {
    const s = stubCanvas(2, 1, Uint8ClampedArray.of(1, 2, 3, 0, 4, 5, 6, 255));
    const img = await decodeImageBrowser(Uint8Array.of(9, 9, 9));
    expect([img.width, img.height, ...img.data]).toEqual([2, 1, 1, 2, 3, 4, 5, 6]);
    expect(s.calls[0]).toEqual({ colorSpaceConversion: "none", premultiplyAlpha: "none" });
    expect(s.calls[1]).toBe(3);
    expect(s.closed()).toBe(true);
  });

  it("feeds an ImageDataset from File objects or URLs", async () => {
    const rgba = new Uint8ClampedArray(40 * 30 * 4).fill(255);
    stubCanvas(40, 30, rgba);
    vi.stubGlobal(
      "fetch",
      async (url: string) =>
        new Response(new Uint8Array([1, 2]), { status: url.endsWith("404") ? 404 : 200 }),
    );
    const io = browserImageIO({ files: new Map([["local/a.png", new Blob([Uint8Array.of(1)])]]) });
    const ds = new ImageDataset(
      [
        { path: "local/a.png", label: 3 },
        { path: "https://example.invalid/b.png", label: 4 },
        { path: "https://example.invalid/404", label: 5 },
      ],
      io,
      { imageSize: 16, onError: "skip", onSkip: () => undefined },
    );
    const batches = [];
    for await (const b of ds.batches({ batchSize: 4, shuffle: false })) batches.push(b);
    expect(batches[0].images.shape).toEqual([2, 3, 16, 16]);
    expect([...batches[0].labels.data]).toEqual([3n, 4n]);
    expect(batches[0].images.data.every((v) => v === 1)).toBe(true);
    expect([...ds.skipped.keys()]).toEqual(["https://example.invalid/404"]);
    expect(ds.skipped.get("https://example.invalid/404")!.message).toMatch(/404.*HTTP 404/);
  });
});
