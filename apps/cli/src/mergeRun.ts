// `flowturbo eval merge RUN_DIR`: FID/sFID of a sharded run from its shards' feature moments (no image
// is read for that), a stats file of the whole run, and optionally one ADM sample npz assembled from the
// shards' images in global order.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeImage, openSampleNpzWriter } from "@flowturbo/data/node";
import { type MomentsFile, mergeMomentsFiles, type StatsFile, statsFromMoments } from "@flowturbo/metrics";
import { readMomentsFile, sampleNpzFileBatches } from "@flowturbo/metrics/node";
import { Tensor } from "@flowturbo/tensor";
import { UsageError } from "./cli";
import type { RunShards } from "./shards";

/** The run's statistics from its shards' moments, added in global sample order. */
export async function runStats(run: RunShards): Promise<StatsFile> {
  const missing = run.shards.filter((s) => !s.manifest.moments).map((s) => s.dir);
  if (missing.length) {
    throw new UsageError(
      `${missing.join(", ")}: no feature moments (sample those shards with --inception FILE to get FID from shards)`,
    );
  }
  let merged: MomentsFile | undefined;
  for (const { dir, manifest } of run.shards) {
    const part = await readMomentsFile(join(dir, manifest.moments!));
    if (part.meta.n !== manifest.range.end - manifest.range.start)
      throw new UsageError(
        `${dir}: moments of ${part.meta.n} images for ${manifest.range.end - manifest.range.start} samples`,
      );
    merged = merged ? mergeMomentsFiles([merged, part], run.root) : part;
  }
  return statsFromMoments(merged!, run.root);
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * Writes the shards' images, in global order and with their labels, as one ADM sample npz (arr_0 uint8
 * NHWC, arr_1 labels; streamed, ZIP64 when needed). PNG shards are checked against their manifests'
 * sha256 on the way. Returns the file size.
 */
export async function assembleSampleNpz(run: RunShards, path: string): Promise<number> {
  const first = run.shards[0];
  let height: number;
  let width: number;
  if (first.manifest.images.kind === "npz") ({ height, width } = first.manifest.images);
  else
    ({ height, width } = await decodeImage(await readFile(join(first.dir, first.manifest.images.files[0]))));
  const writer = await openSampleNpzWriter(path, { count: run.total, height, width });
  try {
    for (const { dir, manifest } of run.shards) {
      const images = manifest.images;
      if (images.kind === "png") {
        const per = height * width * 3;
        const data = new Uint8Array(images.files.length * per);
        for (let i = 0; i < images.files.length; i++) {
          const file = join(dir, images.files[i]);
          const bytes = await readFile(file);
          if (sha256(bytes) !== images.sha256[i])
            throw new Error(`${file}: sha256 differs from ${dir}/manifest.json`);
          const img = await decodeImage(bytes);
          if (img.height !== height || img.width !== width)
            throw new Error(`${file}: ${img.width}x${img.height}, the run's images are ${width}x${height}`);
          data.set(img.data, i * per);
        }
        await writer.append(
          new Tensor("uint8", [images.files.length, height, width, 3], data),
          manifest.labels,
        );
      } else {
        let at = 0;
        for await (const b of sampleNpzFileBatches(join(dir, images.file), { batchSize: 64 })) {
          const t = new Tensor("uint8", [b.count, b.height, b.width, 3], b.data as Uint8Array);
          await writer.append(t, manifest.labels.slice(at, at + b.count));
          at += b.count;
        }
      }
    }
    return await writer.close();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
