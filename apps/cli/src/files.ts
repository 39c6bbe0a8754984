// File helpers shared by commands.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { UsageError } from "./cli";

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Throws a usage error naming the flag when the file does not exist. */
export async function requireFile(path: string | undefined, what: string): Promise<string> {
  if (!path) throw new UsageError(`${what} is required`);
  try {
    await access(path);
  } catch {
    throw new UsageError(`${what}: file not found: ${path}`);
  }
  return path;
}
