// Benchmark: JPEG decode (sharp) + ADM center crop to 256 (Pillow-exact TypeScript resampler), in
// images/s on this machine. Generates its own JPEGs (ImageNet-like sizes, quality 90) in a temp folder.
//
//   pnpm bench            (from packages/data)
//
// Prints one line per measurement and a final JSON line.

import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { centerCropArr, ImageDataset, type RgbImage } from "../src/index";
import { decodeImage, nodeImageIO } from "../src/node/index";

const SIZE = 256;
const SIZES: [number, number][] = [
  [500, 375],
  [500, 333],
  [375, 500],
  [640, 480],
  [500, 400],
  [800, 600],
];
const COUNT = Number(process.env.BENCH_IMAGES ?? 48);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);

function photoLike(w: number, h: number, seed: number): Uint8Array {
  // smooth gradients + texture + edges, roughly JPEG-typical content
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let hsh = (Math.imul(x + seed * 131, 73856093) ^ Math.imul(y, 19349663)) >>> 0;
      hsh = Math.imul(hsh ^ (hsh >>> 15), 0x2c1b3c6d) >>> 0;
      const tex = (hsh >>> 27) - 16;
      const blob =
        ((x - w / 2) ** 2 + (y - h / 3) ** 2 < (h / 4) ** 2 ? 80 : 0) + (((x >> 5) + (y >> 5)) % 2) ? 20 : 0;
      for (let c = 0; c < 3; c++) {
        const v = (x * (c + 1) * 97) / w + (y * (3 - c) * 61) / h + blob + tex + seed * 7;
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  return data;
}

async function timeIt(label: string, n: number, fn: () => Promise<void>): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    await fn();
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)];
  console.log(
    `${label}: ${median.toFixed(1)} images/s (median of ${ROUNDS}; ${rates.map((r) => r.toFixed(0)).join(", ")})`,
  );
  return median;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ft-bench-"));
  try {
    const paths: string[] = [];
    let pixels = 0;
    for (let i = 0; i < COUNT; i++) {
      const [w, h] = SIZES[i % SIZES.length];
      const p = join(dir, `img${String(i).padStart(4, "0")}.jpg`);
      await writeFile(
        p,
        await sharp(photoLike(w, h, i), { raw: { width: w, height: h, channels: 3 } })
          .jpeg({ quality: 90 })
          .toBuffer(),
      );
      paths.push(p);
      pixels += w * h;
    }
    const { readFile } = await import("node:fs/promises");
    const files = await Promise.all(paths.map((p) => readFile(p)));
    console.log(
      `${COUNT} JPEGs (${(pixels / COUNT / 1e3).toFixed(0)} kpixel average), crop to ${SIZE}; ` +
        `${cpus()[0]?.model ?? "cpu"} x${availableParallelism()}, sharp threads ${sharp.concurrency()}, decode concurrency ${CONCURRENCY}`,
    );
    // warm-up
    for (const f of files.slice(0, 4)) centerCropArr(await decodeImage(f), SIZE);

    const decodeAll = async (): Promise<RgbImage[]> => {
      const out: RgbImage[] = new Array(files.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < files.length) {
            const i = next++;
            out[i] = await decodeImage(files[i]);
          }
        }),
      );
      return out;
    };
    const decoded = await decodeAll();
    const decodeIps = await timeIt("decode (sharp, bytes in memory)", COUNT, async () => {
      await decodeAll();
    });
    const cropIps = await timeIt(`ADM center crop to ${SIZE} (TypeScript, one thread)`, COUNT, async () => {
      for (const img of decoded) centerCropArr(img, SIZE);
    });
    const ds = new ImageDataset(
      paths.map((path) => ({ path, label: 0 })),
      nodeImageIO(),
      { imageSize: SIZE, concurrency: CONCURRENCY },
    );
    const pipelineIps = await timeIt(
      "read + decode + crop + CHW float (ImageDataset.batches)",
      COUNT,
      async () => {
        for await (const _ of ds.batches({ batchSize: 16, shuffle: false, randomFlip: true })) void _;
      },
    );
    console.log(
      JSON.stringify({
        bench: "data/decode-crop",
        images: COUNT,
        imageSize: SIZE,
        avgInputPixels: Math.round(pixels / COUNT),
        decodeImagesPerSec: Number(decodeIps.toFixed(1)),
        cropImagesPerSec: Number(cropIps.toFixed(1)),
        decodeCropImagesPerSec: Number(pipelineIps.toFixed(1)),
        concurrency: CONCURRENCY,
        cpus: availableParallelism(),
        node: process.version,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
