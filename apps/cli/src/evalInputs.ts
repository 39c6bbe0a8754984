// The inputs of `flowturbo eval`, checked before any network is loaded: they exist, a folder holds images
// and is not an interrupted sample run, a sample npz holds images. Each fault is a usage error naming
// the input.
import { IMAGE_EXTENSIONS, listImageFiles } from "@flowturbo/data/node";
import { type EvalInput, inspectEvalInput } from "@flowturbo/metrics/node";
import { UsageError } from "./cli";

/** Checks one input (`builtins`: names that are not paths, e.g. "emoji"); returns what it is. */
export async function checkEvalInput(
  path: string,
  builtins: readonly string[] = [],
): Promise<EvalInput | undefined> {
  if (builtins.includes(path)) return undefined;
  let input: EvalInput;
  try {
    input = await inspectEvalInput(path);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (input.kind === "folder") {
    let files: string[];
    try {
      files = await listImageFiles(path);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (files.length === 0)
      throw new UsageError(`${path}: no images (${IMAGE_EXTENSIONS.join(", ")}) in the folder`);
  } else if (input.kind === "samples" && input.images?.count === 0)
    throw new UsageError(`${path}: a sample npz with 0 images (arr_0)`);
  return input;
}
