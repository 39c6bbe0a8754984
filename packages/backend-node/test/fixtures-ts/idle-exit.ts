// Loads a model in the worker, runs it and returns without closing the backend: the process must exit.
import { Graph, op, Tensor } from "@flowturbo/tensor";
import { createNodeBackend } from "../../src";

const g = new Graph("double");
g.output("y", op.mul(g.input("x", "float32", [3]), 2));
const backend = createNodeBackend();
const session = await backend.load({ graph: g });
const out = await session.run({ x: Tensor.from("float32", [3], [1, 2, 3]) });
process.stdout.write(`${JSON.stringify({ y: Array.from((out.y as Tensor).data as Float32Array) })}\n`);
