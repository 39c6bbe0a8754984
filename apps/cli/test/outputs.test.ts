import { describe, expect, test } from "vitest";
import { imageOutput } from "../src/outputs";

describe("imageOutput (-o)", () => {
  test("png grid, ADM npz, PNG folder", () => {
    expect(imageOutput("grid.png")).toEqual({ kind: "grid", path: "grid.png" });
    expect(imageOutput("samples.npz")).toEqual({ kind: "npz", path: "samples.npz" });
    expect(imageOutput("out/pngs")).toEqual({ kind: "folder", path: "out/pngs" });
    expect(imageOutput("run.v2/")).toEqual({ kind: "folder", path: "run.v2/" });
    expect(imageOutput("shard.0001")).toEqual({ kind: "folder", path: "shard.0001" });
  });
  test("an image format we do not write is refused, not turned into a folder", () => {
    expect(() => imageOutput("out.jpg")).toThrow(
      /-o out\.jpg: images are written as a \.png grid.*\.jpg is none/,
    );
    expect(() => imageOutput("x.webp")).toThrow(/\.webp is none of these/);
  });
});
