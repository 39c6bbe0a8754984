import { readFileSync } from "node:fs";
import { openNpz } from "@flowturbo/tensor";
import { describe, expect, it } from "vitest";
import { centerCropArr, resizeRgb, type ResampleFilter } from "../src/index";
import { pattern } from "./pattern";

const fixtures = new URL("./fixtures/", import.meta.url);

describe("Pillow resampling (fixtures from Pillow 9.4)", async () => {
  const npz = await openNpz(new Uint8Array(readFileSync(new URL("pil_resample.npz", fixtures))), {
    name: "pil_resample.npz",
  });
  const meta = JSON.parse(new TextDecoder().decode((await npz.read("cases")).data as Uint8Array));
  it("reproduces the pattern", async () => {
    expect(pattern(37, 23).data).toEqual((await npz.read("pattern_37x23")).data);
  });
  for (const c of meta.cases) {
    it(`${c.name}: ${c.kind} ${c.w}x${c.h} -> ${c.kind === "crop" ? c.size : `${c.W}x${c.H} ${c.filter}`}`, async () => {
      const ref = await npz.read(c.name);
      const out =
        c.kind === "crop"
          ? centerCropArr(pattern(c.w, c.h), c.size)
          : resizeRgb(pattern(c.w, c.h), c.W, c.H, c.filter as ResampleFilter);
      expect([out.height, out.width, 3]).toEqual([...ref.shape]);
      let diff = 0;
      for (let i = 0; i < out.data.length; i++) if (out.data[i] !== ref.data[i]) diff++;
      expect(diff).toBe(0);
    });
  }
});
