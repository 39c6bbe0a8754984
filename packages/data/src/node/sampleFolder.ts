/// <reference types="node" />
// The completeness record of a folder of samples (PngFolderWriter): what makes an interrupted run
// distinguishable from a finished one, for every reader of image folders (listImageFiles).
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The record's file name. Written first with `complete: false`, rewritten with `complete: true` after
 * the last image; a folder without it is a plain folder of images.
 */
export const SAMPLE_FOLDER_MANIFEST = "flowturbo-samples.json";

export interface SampleFolderManifest {
  format: "flowturbo-samples";
  version: 1;
  complete: boolean;
  /** Images the run writes. */
  count: number;
  /** The images written so far (all of them once complete), relative to the folder. */
  files: string[];
}

/**
 * The images of a sample folder, as its complete record lists them (paths joined to `dir`). Throws
 * naming the folder when the record says the run did not finish, or is malformed.
 */
export async function sampleFolderFiles(dir: string): Promise<string[]> {
  const path = join(dir, SAMPLE_FOLDER_MANIFEST);
  let m: Partial<SampleFolderManifest>;
  try {
    m = JSON.parse(await readFile(path, "utf8")) as Partial<SampleFolderManifest>;
  } catch (err) {
    throw new Error(`${path}: unreadable sample folder record (${(err as Error).message})`);
  }
  if (
    m.format !== "flowturbo-samples" ||
    !Array.isArray(m.files) ||
    !m.files.every((f) => typeof f === "string" && !f.includes("/") && !f.includes("\\") && f !== "..") ||
    typeof m.count !== "number"
  )
    throw new Error(`${path}: not a sample folder record (format 'flowturbo-samples' with files and count)`);
  if (m.complete !== true || m.files.length !== m.count)
    throw new Error(
      `${dir}: an interrupted sample run (${SAMPLE_FOLDER_MANIFEST} says incomplete: ${m.count} images were to be written); run it again`,
    );
  return m.files.map((f) => join(dir, f));
}
