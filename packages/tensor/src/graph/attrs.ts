// Node attributes of the graph IR: shared by the IR (ir.ts), shape inference (infer.ts), ONNX emission
// and the interpreter, so that none of them has to import another for the types.
import type { Tensor } from "../tensor";

/** Attribute values of a node (ONNX attributes, plus the constant-input operands ONNX takes as inputs). */
export type AttrValue = number | string | readonly number[] | Tensor;
export type Attrs = Readonly<Record<string, AttrValue>>;
