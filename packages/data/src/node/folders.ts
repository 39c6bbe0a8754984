/// <reference types="node" />
// Datasets from the file system: ImageFolder (one subfolder per class), flat folders (unlabelled, one
// label, or ADM's "<class>_<name>.jpg" file names) and file lists.

import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import {
  type ClassAssignment,
  ClassMapError,
  type ClassMapSpec,
  parseClassMap,
  resolveClassMap,
} from "../classmap";
import { type ImageDatasetOptions, ImageDataset, type ImageItem } from "../dataset";
import { type DecodeOptions, nodeImageIO } from "./decode";
import { SAMPLE_FOLDER_MANIFEST, sampleFolderFiles } from "./sampleFolder";

/** Image file extensions listed by default (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([".jpg", ".jpeg", ".png", ".webp"]);

/**
 * A class map: a spec, or a path to a class-map file (JSON `{"name": id}`, JSON array of names, or
 * `name id` lines).
 */
export type ClassMapOption = ClassMapSpec | string;

export interface FolderDatasetOptions extends Omit<ImageDatasetOptions, "classes">, DecodeOptions {
  /** File extensions to include (default IMAGE_EXTENSIONS). */
  extensions?: readonly string[];
}

export interface LabelledFolderOptions extends FolderDatasetOptions {
  /** The model's number of classes (1000 for ImageNet SiT; without the null class). */
  numClasses: number;
  /**
   * How class names become model ids (see `ClassMapSpec`), or a class-map file path. Required unless the
   * names are ImageNet synsets and numClasses is 1000.
   */
  classMap?: ClassMapOption;
}

/** Loads `classMap` when it is a file path (anything but "folder-order" / "imagenet"). */
export async function loadClassMap(classMap: ClassMapOption | undefined): Promise<ClassMapSpec | undefined> {
  if (typeof classMap !== "string" || classMap === "folder-order" || classMap === "imagenet") return classMap;
  let text: string;
  try {
    text = await readFile(classMap, "utf8");
  } catch (err) {
    throw new ClassMapError(`cannot read class map '${classMap}': ${(err as Error).message}`);
  }
  return parseClassMap(text, classMap);
}

function hasExtension(name: string, extensions: readonly string[]): boolean {
  const lower = name.toLowerCase();
  return extensions.some((e) => lower.endsWith(e.toLowerCase()));
}

/** File or folder, following symbolic links (ImageNet trees are often symlinked); broken links are skipped. */
async function entryKind(e: Dirent, path: string): Promise<"file" | "dir" | "other"> {
  if (e.isDirectory()) return "dir";
  if (e.isFile()) return "file";
  if (!e.isSymbolicLink()) return "other";
  const st = await stat(path).catch(() => undefined);
  return st?.isDirectory() ? "dir" : st?.isFile() ? "file" : "other";
}

/**
 * All image files under `dir`, recursively, sorted (by path code units); hidden entries are skipped. A
 * folder written by PngFolderWriter contributes exactly the images its record lists, and a record that
 * says the run was interrupted is an error.
 */
export async function listImageFiles(
  dir: string,
  extensions: readonly string[] = IMAGE_EXTENSIONS,
): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      throw new Error(`cannot list '${d}': ${(err as Error).message}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (entries.some((e) => e.name === SAMPLE_FOLDER_MANIFEST && e.isFile())) {
      for (const p of await sampleFolderFiles(d)) {
        if (!(await stat(p).catch(() => undefined))?.isFile())
          throw new Error(`${p}: listed in ${join(d, SAMPLE_FOLDER_MANIFEST)} but missing`);
        if (hasExtension(p, extensions)) out.push(p);
      }
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      const kind = await entryKind(e, p);
      if (kind === "dir") await walk(p);
      else if (kind === "file" && hasExtension(e.name, extensions)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

function makeDataset(
  items: ImageItem[],
  options: FolderDatasetOptions,
  classes?: ClassAssignment,
): ImageDataset {
  return new ImageDataset(items, nodeImageIO(options), { ...options, classes });
}

/**
 * torchvision-style ImageFolder: each subfolder of `root` is a class (its images found recursively);
 * files directly in `root` are ignored. Folder names map to model class ids through `classMap` (see
 * `resolveClassMap`: an error unless mapped, acknowledged with "folder-order", or ImageNet synsets with a
 * 1000-class model).
 */
export async function imageFolder(root: string, options: LabelledFolderOptions): Promise<ImageDataset> {
  const extensions = options.extensions ?? IMAGE_EXTENSIONS;
  const dirs: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (!e.name.startsWith(".") && (await entryKind(e, join(root, e.name))) === "dir") dirs.push(e.name);
  }
  if (dirs.length === 0)
    throw new ClassMapError(
      `${root}: no class subfolders: labelled images need one subfolder per class (${join(root, "<class>", "*.png")})`,
    );
  const classes = resolveClassMap(dirs, {
    numClasses: options.numClasses,
    classMap: await loadClassMap(options.classMap),
    what: "class folders",
  });
  const items: ImageItem[] = [];
  for (const [name, id] of classes.ids) {
    for (const path of await listImageFiles(join(root, name), extensions)) items.push({ path, label: id });
  }
  if (items.length === 0)
    throw new Error(`${root}: no images (${extensions.join(", ")}) in the class folders`);
  return makeDataset(items, options, classes);
}

export interface FlatFolderOptions extends FolderDatasetOptions {
  /**
   * Labels: none (default: -1, unconditional), one model class id for every image, or ADM's
   * class-conditional convention "filename-prefix" (class name = file name up to the first "_", mapped
   * with numClasses/classMap like folder names).
   */
  label?: number | "filename-prefix";
  numClasses?: number;
  classMap?: ClassMapOption;
}

/** All images under `dir` (recursively, as guided-diffusion's _list_image_files_recursively). */
export async function flatFolder(dir: string, options: FlatFolderOptions): Promise<ImageDataset> {
  const files = await listImageFiles(dir, options.extensions ?? IMAGE_EXTENSIONS);
  if (files.length === 0) throw new Error(`${dir}: no images found`);
  if (options.label === "filename-prefix") {
    if (options.numClasses === undefined) throw new ClassMapError(`label "filename-prefix" needs numClasses`);
    const prefixes = files.map((f) => basename(f).split("_")[0]);
    const classes = resolveClassMap(prefixes, {
      numClasses: options.numClasses,
      classMap: await loadClassMap(options.classMap),
      what: "file-name class prefixes",
    });
    return makeDataset(
      files.map((path, i) => ({ path, label: classes.ids.get(prefixes[i])! })),
      options,
      classes,
    );
  }
  const label = options.label ?? -1;
  if (
    !Number.isInteger(label) ||
    label < -1 ||
    (options.numClasses !== undefined && label >= options.numClasses)
  )
    throw new ClassMapError(`label ${label} is not a class of a ${options.numClasses ?? "?"}-class model`);
  return makeDataset(
    files.map((path) => ({ path, label })),
    options,
  );
}

export interface FileListOptions extends FolderDatasetOptions {
  /** Relative paths are resolved against this folder (default: the list file's folder, or the cwd). */
  root?: string;
  /** Needed when entries carry labels. */
  numClasses?: number;
  /** Maps class names of the list; integer labels are model class ids and need no map. */
  classMap?: ClassMapOption;
}

/**
 * A dataset from a list: a text file (or array of lines) with one image per line, `path` or
 * `path<whitespace>label`, where label is a model class id (integer) or a class name mapped through
 * `classMap`. Blank lines and `#` comments are ignored. All entries must be labelled alike.
 */
export async function fileList(
  list: string | readonly string[],
  options: FileListOptions,
): Promise<ImageDataset> {
  const source = typeof list === "string" ? list : "file list";
  const lines = typeof list === "string" ? (await readFile(list, "utf8")).split(/\r?\n/) : list;
  const root = options.root ?? (typeof list === "string" ? dirname(resolve(list)) : process.cwd());
  const parsed: { path: string; label?: string }[] = [];
  lines.forEach((raw) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!line) return;
    const m = /^(.*\S)\s+(\S+)$/.exec(line);
    const [path, label] =
      m && !hasExtension(m[2], options.extensions ?? IMAGE_EXTENSIONS) ? [m[1], m[2]] : [line, undefined];
    parsed.push({ path: isAbsolute(path) ? path : join(root, path), label });
  });
  if (parsed.length === 0) throw new Error(`${source}: no entries`);
  const labelled = parsed.filter((p) => p.label !== undefined).length;
  if (labelled === 0)
    return makeDataset(
      parsed.map((p) => ({ path: p.path, label: -1 })),
      options,
    );
  if (labelled !== parsed.length)
    throw new ClassMapError(
      `${source}: ${parsed.length - labelled} of ${parsed.length} entries have no label`,
    );
  if (options.numClasses === undefined)
    throw new ClassMapError(`${source}: labelled entries need numClasses`);
  const numeric = parsed.every((p) => /^\d+$/.test(p.label!));
  if (numeric && options.classMap === undefined) {
    const items = parsed.map((p) => ({ path: p.path, label: Number(p.label) }));
    const bad = items.find((it) => it.label >= options.numClasses!);
    if (bad)
      throw new ClassMapError(
        `${source}: label ${bad.label} of ${relative(root, bad.path)} is not a class of the ${options.numClasses}-class model`,
      );
    return makeDataset(items, options, {
      mode: "map",
      numClasses: options.numClasses,
      ids: new Map(
        [...new Set(items.map((it) => it.label))].sort((a, b) => a - b).map((l) => [String(l), l]),
      ),
    });
  }
  const classes = resolveClassMap(
    parsed.map((p) => p.label!),
    { numClasses: options.numClasses, classMap: await loadClassMap(options.classMap), what: "class labels" },
  );
  return makeDataset(
    parsed.map((p) => ({ path: p.path, label: classes.ids.get(p.label!)! })),
    options,
    classes,
  );
}
