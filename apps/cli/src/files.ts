// File helpers shared by commands: inputs that must exist (as a file or a folder), and outputs checked
// before any work starts (so that a long run never fails at its end on a path it cannot write).
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "./cli";

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Throws a usage error naming the flag when `path` is not given, does not exist, or is not of the
 * `kind` asked for ("file" by default; "any": a file or a folder).
 */
export async function requireFile(
  path: string | undefined,
  what: string,
  kind: "file" | "folder" | "any" = "file",
): Promise<string> {
  if (!path) throw new UsageError(`${what} is required`);
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UsageError(`${what}: file not found: ${path}`);
  if (kind === "file" && st.isDirectory())
    throw new UsageError(`${what}: ${path} is a folder, expected a file`);
  if (kind === "folder" && !st.isDirectory())
    throw new UsageError(`${what}: ${path} is a file, expected a folder`);
  return path;
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message;
}

/**
 * The nearest folder at or above `path` that exists (where a write would create what is missing), and
 * a check that it is a folder and that a file can be created in it (a real probe: permission bits do
 * not tell for root, read-only mounts or /proc).
 */
async function writableAncestor(path: string, what: string): Promise<void> {
  let dir = resolve(path);
  for (;;) {
    const st = await stat(dir).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw new UsageError(`${what}: ${dir} is a file, not a folder`);
      break;
    }
    if (dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  const probe = join(dir, `.flowturbo-probe-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await (await open(probe, "wx")).close();
  } catch (e) {
    throw new UsageError(`${what}: cannot write in ${dir} (${reason(e)})`);
  }
  await rm(probe, { force: true });
}

/**
 * Checks, before any work, that the file output `path` (given as `flag`) can be written: not a folder,
 * and its folder exists and is writable, or can be created. Nothing is created: missing folders are made
 * when the file is written, so a run refused later leaves nothing behind.
 */
export async function checkOutputFile(path: string, flag: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`${flag} ${path} is a folder; give a file name`);
  await writableAncestor(dirname(path), `${flag} ${path}`);
  return path;
}

/** As checkOutputFile for a folder output: an existing file at `path` is refused. */
export async function checkOutputFolder(path: string, flag: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UsageError(`${flag} ${path} is a file; give a folder`);
  await writableAncestor(path, `${flag} ${path}`);
  return path;
}
