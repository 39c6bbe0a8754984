// Writes a state dict as a torch.save zip file (pickle protocol 2, one storage per tensor), the layout of
// pytorch-fid's pt_inception-2015-12-05-6726825d.pth, so the .pth path can be tested without the file.
import type { Tensor } from "@flowturbo/tensor";
import { zipChunks } from "@flowturbo/tensor";
import { writeFileStreaming } from "@flowturbo/tensor/node";

class Pickle {
  private readonly parts: number[] = [0x80, 2];
  private op(...b: number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  private bytes(s: string): number[] {
    return [...new TextEncoder().encode(s)];
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...this.bytes(`${module}\n${name}\n`));
  }
  mark(): this {
    return this.op(0x28);
  }
  str(s: string): this {
    const u = this.bytes(s);
    return this.op(
      0x58,
      u.length & 0xff,
      (u.length >> 8) & 0xff,
      (u.length >> 16) & 0xff,
      u.length >>> 24,
      ...u,
    );
  }
  int(n: number): this {
    return this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
  }
  ints(v: readonly number[]): this {
    this.mark();
    for (const x of v) this.int(x);
    return this.op(0x74);
  }
  /** _rebuild_tensor_v2(persistent storage, offset 0, size, contiguous stride, False, OrderedDict()) */
  tensor(storage: string, key: string, shape: readonly number[]): this {
    const numel = shape.reduce((a, b) => a * b, 1);
    const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    this.global("torch._utils", "_rebuild_tensor_v2").mark();
    this.mark().str("storage").global("torch", storage).str(key).str("cpu").int(numel).op(0x74, 0x51);
    this.int(0).ints(shape).ints(stride).op(0x89);
    this.global("collections", "OrderedDict").op(0x29, 0x52);
    return this.op(0x74, 0x52);
  }
  stateDict(entries: [string, Tensor][]): Uint8Array {
    this.global("collections", "OrderedDict").op(0x29, 0x52).mark();
    entries.forEach(([name, t], i) => {
      this.str(name).tensor(t.dtype === "int64" ? "LongStorage" : "FloatStorage", String(i), t.shape);
    });
    this.op(0x75, 0x2e); // SETITEMS, STOP
    return Uint8Array.from(this.parts);
  }
}

export async function writeTorchStateDict(
  path: string,
  sd: ReadonlyMap<string, Tensor>,
  top = "archive",
): Promise<number> {
  const entries = [...sd];
  const pkl = new Pickle().stateDict(entries);
  const members = [
    { name: `${top}/data.pkl`, data: pkl },
    ...entries.map(([, t], i) => ({
      name: `${top}/data/${i}`,
      data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    })),
    { name: `${top}/version`, data: new TextEncoder().encode("3\n") },
  ];
  return writeFileStreaming(path, zipChunks(members));
}
