import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";

// The README's example is examples/decode.ts verbatim; it runs here as written (on the tiny fixture VAE).
const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

describe("README example", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is in the README verbatim", () => {
    const examples = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts"));
    expect(examples).toEqual(["decode.ts"]);
    const code = readFileSync(join(root, "examples", "decode.ts"), "utf8").trim();
    expect(readme.includes(code), "examples/decode.ts differs from its README copy").toBe(true);
  });

  it("decodes 6 latents in chunks of 4 to uint8 images and re-encodes two", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
    delete process.env.VAE_DIR;
    await import("../examples/decode");
    expect(lines).toEqual(["uint8 images (NHWC): 6x64x64x3", "re-encoded latents: 2x4x32x32"]);
  });
});
