// Process exit must not tear the ONNX Runtime worker down in the middle of a native call: onnxruntime-node
// then throws a Napi::Error out of native code and the whole process aborts ("terminate called after
// throwing an instance of 'Napi::Error'", exit code 134). One Int32 shared by the caller's thread and the
// worker holds the state: the worker claims it around each request, and an exiting process waits for the
// request in hand (Atomics.wait blocks, as an 'exit' listener must) and closes it so that none starts.

const IDLE = 0;
const BUSY = 1;
const CLOSED = 2;

export class ExitGate {
  private readonly cell: Int32Array;

  /** A new gate, or the worker's view of the caller's (`buffer` comes through workerData). */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.cell = new Int32Array(buffer);
  }

  get buffer(): SharedArrayBuffer {
    return this.cell.buffer as SharedArrayBuffer;
  }

  /** True while the worker handles a request. */
  get busy(): boolean {
    return Atomics.load(this.cell, 0) === BUSY;
  }

  /** Worker: claims the gate for one request; false once the process is exiting. */
  enter(): boolean {
    return Atomics.compareExchange(this.cell, 0, IDLE, BUSY) === IDLE;
  }

  /** Worker: the request is done (its native calls have returned). */
  leave(): void {
    Atomics.compareExchange(this.cell, 0, BUSY, IDLE);
    Atomics.notify(this.cell, 0);
  }

  /**
   * Caller's thread, while the process exits: blocks until the request in hand is done, then closes the
   * gate. `onWait` is called once if that takes more than a moment (a long run is finishing).
   */
  close(onWait?: () => void): void {
    let told = false;
    while (Atomics.compareExchange(this.cell, 0, IDLE, CLOSED) === BUSY) {
      if (Atomics.wait(this.cell, 0, BUSY, 2000) === "timed-out" && !told) {
        told = true;
        onWait?.();
      }
    }
  }
}
