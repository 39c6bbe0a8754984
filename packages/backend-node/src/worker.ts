// Worker-thread entry: owns the ONNX Runtime sessions of one backend and answers requests from the
// caller's thread. Results' typed arrays are transferred (moved), never copied again.
import { parentPort, workerData } from "node:worker_threads";
import { errorMessage } from "@flowturbo/core";
import { Engine } from "./engine";
import { ExitGate } from "./exitGate";
import { type Envelope, ownedBuffer, type Reply, type WireOutput, type WireTensor } from "./protocol";

if (!parentPort) throw new Error("@flowturbo/backend-node: worker.ts must run in a worker thread");
const port = parentPort;
const engine = new Engine({ keepHostOutputs: true });
const gate = new ExitGate((workerData as { gate: SharedArrayBuffer }).gate);

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

async function answer({ id, request }: Envelope): Promise<void> {
  let reply: Reply;
  let transfer: ArrayBuffer[] = [];
  if (!gate.enter()) {
    port.postMessage({ id, ok: false, error: { name: "Error", message: "the process is exiting" } });
    return;
  }
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
  } finally {
    gate.leave();
  }
  port.postMessage(reply, transfer);
}

// One request at a time, in arrival order: ORT's calls are synchronous anyway, and a "close" or "release"
// must not overtake a run that is waiting for its turn.
let queue = Promise.resolve();
port.on("message", (envelope: Envelope) => {
  queue = queue.then(() => answer(envelope));
});

port.on("close", () => {
  void engine.close();
});
