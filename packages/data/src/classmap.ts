// Mapping dataset class names (folder names, file-name prefixes, list-file labels) to the model's class
// ids. A dataset whose classes are not the model's must never be silently relabelled: without an explicit
// map or acknowledgement, resolution fails with an error naming the classes found and the model's count.

import { IMAGENET_SYNSETS } from "./imagenet-synsets";

export { IMAGENET_SYNSETS } from "./imagenet-synsets";

/**
 * How dataset class names become model class ids:
 * - a map `{ name: id }` (Map or object), e.g. from a class-map file (`parseClassMap`);
 * - `"folder-order"`: the names sorted (code-unit order, as Python's `sorted` and torchvision) get ids
 *   0..k-1 — an explicit acknowledgement that the model's classes are the folders' in that order;
 * - `"imagenet"`: ImageNet-1k synset folders (n01440764 ...) get their ImageNet class index.
 */
export type ClassMapSpec =
  | "folder-order"
  | "imagenet"
  | ReadonlyMap<string, number>
  | Readonly<Record<string, number>>;

/** The result of class-map resolution. */
export interface ClassAssignment {
  /** How ids were assigned; "imagenet-auto" when ImageNet synsets with a 1000-class model were detected. */
  mode: "map" | "folder-order" | "imagenet" | "imagenet-auto";
  /** The model's number of classes (ids are in [0, numClasses)). */
  numClasses: number;
  /** Dataset class name -> model class id, for the names present, sorted by name. */
  ids: ReadonlyMap<string, number>;
}

/** The dataset's classes do not map to the model's (message says what was found and how to fix it). */
export class ClassMapError extends Error {
  override name = "ClassMapError";
}

const IMAGENET_INDEX = new Map(IMAGENET_SYNSETS.map((s, i) => [s, i]));

/** True when `name` is one of the 1000 ImageNet-1k synsets. */
export function isImagenetSynset(name: string): boolean {
  return IMAGENET_INDEX.has(name);
}

/** Sorts like Python's `sorted` on str (by code point; equal to UTF-16 order for BMP names). */
export function sortNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function listNames(names: readonly string[], max = 12): string {
  const shown = names.slice(0, max).map((n) => `'${n}'`);
  return names.length > max ? `${shown.join(", ")}, ... (${names.length - max} more)` : shown.join(", ");
}

/**
 * Parses a class-map file: a JSON object `{"name": id, ...}`, a JSON array of names (index = id), or
 * text with one `name id` pair per line (whitespace-separated; blank lines and `#` comments ignored).
 * `source` names the file in errors.
 */
export function parseClassMap(text: string, source = "class map"): Map<string, number> {
  const map = new Map<string, number>();
  const add = (name: string, id: unknown, where: string) => {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0)
      throw new ClassMapError(
        `${source}: ${where}: class id of '${name}' must be a non-negative integer, got ${JSON.stringify(id)}`,
      );
    if (map.has(name)) throw new ClassMapError(`${source}: ${where}: '${name}' is mapped twice`);
    map.set(name, id);
  };
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new ClassMapError(`${source}: invalid JSON (${(err as Error).message})`);
    }
    if (Array.isArray(value)) {
      value.forEach((name, i) => {
        if (typeof name !== "string") throw new ClassMapError(`${source}: entry ${i} must be a string name`);
        add(name, i, `entry ${i}`);
      });
    } else {
      for (const [name, id] of Object.entries(value as Record<string, unknown>))
        add(name, id, `key '${name}'`);
    }
  } else {
    trimmed.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*$/, "").trim();
      if (!line) return;
      const m = /^(.+?)\s+(-?\d+)$/.exec(line);
      if (!m)
        throw new ClassMapError(`${source}: line ${i + 1}: expected '<name> <id>', got '${raw.trim()}'`);
      add(m[1], Number(m[2]), `line ${i + 1}`);
    });
  }
  if (map.size === 0) throw new ClassMapError(`${source}: no classes`);
  return map;
}

/**
 * Assigns model class ids to the dataset's class names. Without `classMap`, only ImageNet-1k synset names
 * with `numClasses === 1000` are accepted (mapped to their ImageNet indices); anything else throws a
 * `ClassMapError` naming the classes found and the model's class count, so that e.g. a cat/dog folder
 * never silently becomes ImageNet classes 0 and 1.
 */
export function resolveClassMap(
  names: Iterable<string>,
  options: { numClasses: number; classMap?: ClassMapSpec; what?: string },
): ClassAssignment {
  const { numClasses } = options;
  const what = options.what ?? "class folders";
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new ClassMapError(`numClasses must be a positive integer, got ${numClasses}`);
  const found = sortNames(new Set(names));
  if (found.length === 0) throw new ClassMapError(`no ${what} found`);
  const spec = options.classMap;
  const result = (mode: ClassAssignment["mode"], id: (n: string, i: number) => number): ClassAssignment => ({
    mode,
    numClasses,
    ids: new Map(found.map((n, i) => [n, id(n, i)])),
  });
  if (spec === undefined) {
    if (numClasses === 1000 && found.every(isImagenetSynset))
      return result("imagenet-auto", (n) => IMAGENET_INDEX.get(n)!);
    throw new ClassMapError(
      `the dataset's ${found.length} ${what} (${listNames(found)}) do not map to the model's ${numClasses} classes ` +
        "without a class map. Pass a class map (JSON {\"name\": id} or a text file of 'name id' lines; " +
        "classMap / --class-map FILE), or acknowledge that the model's classes are these names in sorted " +
        'order with classMap: "folder-order" (--class-map folder-order)' +
        (found.every(isImagenetSynset) ? ` (ImageNet synsets: "imagenet" needs a 1000-class model)` : ""),
    );
  }
  if (spec === "folder-order") {
    if (found.length > numClasses)
      throw new ClassMapError(
        `classMap "folder-order": the dataset has ${found.length} ${what} (${listNames(found)}) but the model only ${numClasses} classes`,
      );
    return result("folder-order", (_, i) => i);
  }
  if (spec === "imagenet") {
    const bad = found.filter((n) => !isImagenetSynset(n));
    if (bad.length > 0)
      throw new ClassMapError(
        `classMap "imagenet": ${bad.length} ${what} are not ImageNet-1k synsets: ${listNames(bad)}`,
      );
    if (numClasses < 1000)
      throw new ClassMapError(
        `classMap "imagenet" needs a model with 1000 classes, this one has ${numClasses}`,
      );
    return result("imagenet", (n) => IMAGENET_INDEX.get(n)!);
  }
  const map: ReadonlyMap<string, number> =
    spec instanceof Map ? spec : new Map(Object.entries(spec as Record<string, number>));
  const missing = found.filter((n) => !map.has(n));
  if (missing.length > 0)
    throw new ClassMapError(
      `the class map has no entry for ${missing.length} of the dataset's ${found.length} ${what}: ${listNames(missing)}`,
    );
  for (const n of found) {
    const id = map.get(n)!;
    if (!Number.isInteger(id) || id < 0 || id >= numClasses)
      throw new ClassMapError(
        `the class map sends '${n}' to ${id}, outside the model's classes 0..${numClasses - 1}`,
      );
  }
  return result("map", (n) => map.get(n)!);
}
