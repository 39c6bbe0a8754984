// Worker-thread entry: owns the ONNX Runtime sessions of one backend and answers requests from the
// caller's thread. Results' typed arrays are transferred (moved), never copied again.
import { parentPort } from "node:worker_threads";
import { Engine, errorMessage } from "./engine";
import { type Envelope, ownedBuffer, type Reply, type WireOutput, type WireTensor } from "./protocol";

if (!parentPort) throw new Error("@flowturbo/backend-node: worker.ts must run in a worker thread");
const port = parentPort;
const engine = new Engine({ keepHostOutputs: true });

/** Buffers of every host tensor in a result (the engine hands out arrays it no longer uses). */
function transferList(result: unknown): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (t: WireTensor) => {
    const b = ownedBuffer(t.data);
    if (b) buffers.add(b);
  };
  if (result && typeof result === "object") {
    if ("data" in result && "dtype" in result) add(result as WireTensor);
    else
      for (const v of Object.values(result))
        if ((v as WireOutput)?.kind === "host") add((v as { tensor: WireTensor }).tensor);
  }
  return [...buffers];
}

port.on("message", async ({ id, request }: Envelope) => {
  let reply: Reply;
  let transfer: ArrayBuffer[] = [];
  try {
    const result = await engine.handle(request);
    transfer = transferList(result);
    reply = { id, ok: true, result };
  } catch (e) {
    reply = {
      id,
      ok: false,
      error: {
        name: e instanceof Error ? e.name : "Error",
        message: errorMessage(e),
        stack: e instanceof Error ? e.stack : undefined,
      },
    };
  }
  port.postMessage(reply, transfer);
});

port.on("close", () => {
  void engine.close();
});
