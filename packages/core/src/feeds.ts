// Feed validation shared by the ONNX Runtime adapters: errors name the model, the input and what was expected.
import type { RunValue } from "./backend";

/** A model input or output as the runtime describes it. */
export interface ValueInfo {
  name: string;
  /** The runtime's element type, e.g. "float32" (a DType) or another ORT type such as "int8". */
  type: string;
  /** Dimensions; a string is a symbolic (dynamic) dimension. Undefined for non-tensor values. */
  shape?: (number | string)[];
}

export function shapeString(shape: readonly (number | string)[]): string {
  return `[${shape.join(", ")}]`;
}

/** Throws on unknown or missing inputs, wrong dtypes or shapes, and unknown requested outputs. */
export function checkFeeds(
  model: string,
  inputs: readonly ValueInfo[],
  outputNames: readonly string[],
  feeds: Record<string, RunValue>,
  outputs?: readonly string[],
): void {
  const where = `model '${model}'`;
  const inputNames = inputs.map((i) => i.name);
  for (const name of Object.keys(feeds)) {
    if (!inputNames.includes(name))
      throw new Error(`${where}: unknown input '${name}' (inputs: ${inputNames.join(", ")})`);
  }
  for (const info of inputs) {
    const v = feeds[info.name];
    if (!v)
      throw new Error(
        `${where}: missing input '${info.name}' (${info.type}${shapeString(info.shape ?? [])})`,
      );
    if (v.dtype !== info.type) {
      throw new Error(
        `${where}: input '${info.name}' must be ${info.type}, got ${v.dtype}${shapeString(v.shape)}`,
      );
    }
    const want = info.shape;
    if (want) {
      const fits =
        want.length === v.shape.length &&
        want.every((d, i) => typeof d === "string" || d < 0 || d === v.shape[i]);
      if (!fits) {
        throw new Error(
          `${where}: input '${info.name}' must have shape ${shapeString(want)}, got ${shapeString(v.shape)}`,
        );
      }
    }
  }
  for (const name of outputs ?? []) {
    if (!outputNames.includes(name))
      throw new Error(`${where}: unknown output '${name}' (outputs: ${outputNames.join(", ")})`);
  }
}
