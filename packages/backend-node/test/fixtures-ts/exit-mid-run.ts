// Starts a long run in the worker, then ends the process while ORT is inside it ("exit": process.exit;
// "close": backend.close()). Neither may abort the process (Napi::Error out of native code, exit 134).
import { Graph, op, Tensor } from "@flowturbo/tensor";
import { createNodeBackend } from "../../src";

const N = 512;
const g = new Graph("long_chain");
const x = g.input("x", "float32", [N, N]);
let y = x;
for (let i = 0; i < 200; i++) y = op.matmul(y, x); // ~54 GFLOP: seconds on one thread
g.output("y", op.reduceSum(y, [0, 1]));
const backend = createNodeBackend({ threads: 1 });
const session = await backend.load({ graph: g });
const transport = (backend as unknown as { transport: { busy: boolean } }).transport;
const mode = process.argv[2];
const run = session.run({ x: new Tensor("float32", [N, N], new Float32Array(N * N).fill(1e-3)) });
run.then(
  () => console.log(JSON.stringify({ run: "resolved" })),
  (e: Error) => console.log(JSON.stringify({ run: "rejected", message: e.message })),
);
// wait until the worker is inside the run
while (!transport.busy) await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ busy: true }));
if (mode === "exit") process.exit(0);
await backend.close();
console.log(JSON.stringify({ closed: true }));
