// Load a SiT checkpoint, check it, and run one forward on ONNX Runtime (CPU).
// Run from packages/sit: node --conditions=@flowturbo/source --import tsx examples/forward.ts [sit.pt heads]
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createNodeBackend } from "@flowturbo/backend-node";
import { checkStateDict, loadCheckpoint, sitGraph } from "@flowturbo/sit";
import { Tensor } from "@flowturbo/tensor";

const golden = join(import.meta.dirname, "../../../fixtures/golden/sit");
const [path = join(golden, "sit.pt"), heads = "4"] = process.argv.slice(2);

// .pt (a state dict or a {"model","ema"} wrapper), .safetensors or our .onnx: architecture from the shapes
const ckpt = await loadCheckpoint(new Uint8Array(await readFile(path)), { heads: Number(heads) });
const graph = sitGraph(ckpt.config, { batch: 2 });
checkStateDict(graph, ckpt.weights, path); // names any missing, unexpected or misshapen key

const backend = createNodeBackend();
const session = await backend.load({ graph, weights: ckpt.weights });
const c = ckpt.config;
const out = await session.run({
  x: new Tensor(
    "float32",
    [2, c.inChannels, c.inputSize, c.inputSize],
    new Float32Array(2 * c.inChannels * c.inputSize ** 2),
  ),
  t: Tensor.from("float32", [2], [0.25, 0.75]),
  y: Tensor.from("int64", [2], [207, c.numClasses]), // a class and the null class
});
console.log(ckpt.kind, `depth ${c.depth}, width ${c.hiddenSize}`, (out.v as Tensor).shape);
await backend.close();
