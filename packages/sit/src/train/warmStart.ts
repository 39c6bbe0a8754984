// Warm starts: a training run's initial weights taken from a trained model (e.g. the previous embedded
// emoji model) instead of SiT's random initialisation. The label table is mapped row by row when the new
// model's classes refine the old ones (each new class starts from the embedding of the old class that
// contains it: the 24 emoji groups from their categories); blocks the old model lacks keep their fresh
// adaLN-Zero initialisation (zero gates: the deeper model starts as exactly the old function).
import { Tensor } from "@flowturbo/tensor";

const LABEL_TABLE = "y_embedder.embedding_table.weight";

export interface WarmStartOptions {
  /** Parameter prefix of the model in the step graph ("refiner" for the refiner's student). */
  prefix?: string;
  /** New class id -> old class id (length: the new class count); identity when absent. */
  classMap?: readonly number[];
}

/**
 * `initial` (the step graph's fresh weights) with every parameter of `source` (a state dict, no prefix)
 * copied in. Shapes must match, except the label table under `classMap`. Parameters of `initial` that
 * `source` lacks keep their fresh values and are listed in `fresh`.
 */
export function warmStartWeights(
  initial: ReadonlyMap<string, Tensor>,
  source: ReadonlyMap<string, Tensor>,
  opts: WarmStartOptions = {},
): { weights: Map<string, Tensor>; fresh: string[] } {
  const pre = opts.prefix ? `${opts.prefix}.` : "";
  const out = new Map(initial);
  for (const [key, t] of source) {
    const name = pre + key;
    const target = initial.get(name);
    if (!target) throw new Error(`warm start: the new model has no parameter '${key}'`);
    if (key === LABEL_TABLE && opts.classMap) {
      const [oldRows, d] = t.shape;
      const newRows = opts.classMap.length + 1;
      if (target.shape[0] !== newRows || target.shape[1] !== d)
        throw new Error(
          `warm start: the class map gives ${newRows} label rows of ${d}, the new model has [${target.shape}]`,
        );
      const src = t.toFloat32();
      const data = new Float32Array(newRows * d);
      opts.classMap.forEach((old, k) => {
        if (!(Number.isInteger(old) && old >= 0 && old < oldRows - 1))
          throw new Error(
            `warm start: class ${k} maps to ${old}, not a class of the old model (0..${oldRows - 2})`,
          );
        data.set(src.subarray(old * d, (old + 1) * d), k * d);
      });
      // null (unconditional) class: the old model's
      data.set(src.subarray((oldRows - 1) * d, oldRows * d), (newRows - 1) * d);
      out.set(name, new Tensor("float32", [newRows, d], data));
      continue;
    }
    if (t.shape.join(",") !== target.shape.join(","))
      throw new Error(
        `warm start: '${key}' is [${t.shape}] in the source, [${target.shape}] in the new model`,
      );
    out.set(name, t.dtype === "float32" ? t : t.astype("float32"));
  }
  const fresh = [...initial.keys()].filter((n) => n.startsWith(pre) && !source.has(n.slice(pre.length)));
  return { weights: out, fresh };
}
