// Issue 19, part 1: the CLI under misuse refuses before any work, with exit code 2 and one line that
// names the flag or file and the fault (in-process runs; nothing here samples more than a few images).
// Numbers in the test names are the issue's points.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "@flowturbo/data";
import { writeStatsFile } from "@flowturbo/metrics/node";
import { encodeSafetensors, readSafetensors, safetensorsChunks, Tensor } from "@flowturbo/tensor";
import { saveNpzFile, writeFileStreaming } from "@flowturbo/tensor/node";
import { goldenPath, goldenVaeFolder, runTs, zeroBombZip } from "@flowturbo/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { COMMANDS, EXIT } from "../src";
import { embeddedModel } from "../src/embedded";
import { cli } from "./run";

let dir: string;
const EMBEDDED = embeddedModel({})!.base;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flowturbo-misuse-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The embedded base model with its metadata and weights changed by `edit`. */
async function editedModel(
  name: string,
  edit: (m: { tensors: Map<string, Tensor>; metadata: Record<string, string> }) => void,
): Promise<string> {
  const { tensors, metadata } = await readSafetensors(new Uint8Array(await readFile(EMBEDDED)));
  const m = { tensors: new Map(tensors), metadata: { ...(metadata ?? {}) } };
  edit(m);
  const path = join(dir, name);
  await writeFileStreaming(path, safetensorsChunks(m.tensors, { metadata: m.metadata }));
  return path;
}

const usage = (r: { code: number; err: string }, message: RegExp) => {
  expect(r.code, r.err).toBe(EXIT.usage);
  expect(r.err).toMatch(message);
  expect(r.err.trim().split("\n")).toHaveLength(1); // one line, no stack
};

describe("2. limits are refused up front with the limit named", () => {
  test("--n, --batch and --steps beyond the limits: exit 2 before any model is loaded", async () => {
    const out = ["-o", join(dir, "never.png")];
    usage(
      await cli("sample", "--n", "1e9", ...out),
      /--n: the number of samples must be in 1\.\.1000000, got 1000000000/,
    );
    usage(await cli("sample", "--n", "1e7", ...out), /--n: .* 1\.\.1000000, got 10000000/);
    usage(
      await cli("sample", "--batch", "1e9", ...out),
      /--batch: batch must be an integer in 1\.\.4096, got 1000000000/,
    );
    usage(
      await cli("sample", "--solver", "heun", "--steps", "1e9", ...out),
      /--steps: steps must be an integer in 1\.\.1000, got 1000000000/,
    );
    usage(await cli("bench", "--n", "1e9"), /--n must be an integer in 1\.\.1000000, got '1e9'/);
    usage(
      await cli("decode", EMBEDDED, "--vae", dir, "-o", join(dir, "d.png"), "--batch", "1e9"),
      /--batch must be an integer in 1\.\.4096/,
    );
    usage(
      await cli("train-base", "--out", join(dir, "t"), "--steps", "1", "--batch", "1e9"),
      /--batch must be an integer in 1\.\.4096, got '1e9'/,
    );
    usage(
      await cli("train-base", "--out", join(dir, "t"), "--steps", "1", "--hidden", "1e9"),
      /--hidden must be an integer in 1\.\.8192/,
    );
    expect(existsSync(join(dir, "never.png")) || existsSync(join(dir, "t"))).toBe(false);
  });
});

describe("3. a recorded architecture is checked against the tensors", () => {
  test("edited flowturbo.config: models verify fails, sample and convert refuse, naming file and field", async () => {
    const edited = await editedModel("edited.safetensors", (m) => {
      const rec = JSON.parse(m.metadata["flowturbo.config"]);
      rec.config = { ...rec.config, depth: 100000, inputSize: 400000, numClasses: 1e9 };
      m.metadata["flowturbo.config"] = JSON.stringify(rec);
    });
    const fault =
      /edited\.safetensors: metadata 'flowturbo\.config' does not match the weights: inputSize 400000 recorded, 32 in the tensors; depth 100000 recorded, 5 in the tensors; numClasses 1000000000 recorded, 24 in the tensors/;
    const verify = await cli("models", "verify", edited);
    expect(verify.code).toBe(EXIT.failure);
    expect(verify.err).toMatch(fault);
    usage(await cli("sample", "--base", edited, "-o", join(dir, "e.png")), fault);
    usage(await cli("convert", edited, "-o", join(dir, "e.onnx")), fault);
  });
});

describe("4. a checkpoint cannot make the reader inflate more than its format needs", () => {
  test("a 0.5 MB .pt whose data.pkl inflates to 512 MiB is refused before inflating (peak RSS of the child)", async () => {
    const bomb = join(dir, "bomb.pt");
    await writeFile(bomb, await zeroBombZip("archive/data.pkl", 512 << 20));
    expect((await readFile(bomb)).length).toBeLessThan(1 << 20);
    const fault =
      /bomb\.pt: member 'archive\/data\.pkl' declares 536870912 bytes; at most 268435456 are expected/;
    const verify = await runTs(join(import.meta.dirname, "../src/bin.ts"), {
      args: ["models", "verify", bomb],
      peakRss: true,
    });
    expect(verify.code).toBe(EXIT.failure);
    expect(verify.stderr).toMatch(fault);
    console.log(`peak RSS of models verify on the bomb: ${(verify.peakRssBytes! / (1 << 20)).toFixed(0)} MB`);
    expect(verify.peakRssBytes!).toBeLessThan(400 * (1 << 20)); // inflating it would take 512 MiB more
    usage(await cli("sample", "--base", bomb, "-o", join(dir, "b.png")), fault);
  });
});

describe("6. non-finite values are found, never written as black images", () => {
  test("--cfg 1e308 is refused; NaN weights fail models verify and sample (no file); all-NaN --noise is refused", async () => {
    usage(
      await cli("sample", "--cfg", "1e308", "-o", join(dir, "c.png")),
      /--cfg: guidance scale must be a number in 0\.\.100 .*got 1e\+308/,
    );
    const nan = await editedModel("nan.safetensors", (m) => {
      const w = m.tensors.get("final_layer.linear.weight")!;
      m.tensors.set(
        "final_layer.linear.weight",
        new Tensor("float32", w.shape, w.toFloat32().fill(Number.NaN)),
      );
    });
    const verify = await cli("models", "verify", nan);
    expect(verify.code).toBe(EXIT.failure);
    expect(verify.err).toMatch(
      /nan\.safetensors: 1 weight tensor holds NaN or infinite values \(final_layer\.linear\.weight: 6144\)/,
    );
    for (const compile of ["block", "model"]) {
      const png = join(dir, `nan-${compile}.png`);
      const r = await cli(
        "sample",
        "--base",
        nan,
        "--plan",
        "H2P2",
        "--n",
        "2",
        "--compile",
        compile,
        "-o",
        png,
      );
      expect(r.code, r.err).toBe(EXIT.failure);
      expect(r.err).toMatch(
        /nan\.safetensors: samples 0\.\.1: .*not finite \(NaN or infinity\).*flowturbo models verify/,
      );
      expect(existsSync(png)).toBe(false);
    }
    const z = join(dir, "z.safetensors");
    await writeFile(
      z,
      encodeSafetensors(
        new Map([["z", new Tensor("float32", [2, 3, 32, 32], new Float32Array(6144).fill(Number.NaN))]]),
      ),
    );
    usage(
      await cli("sample", "--n", "2", "--noise", z, "-o", join(dir, "z.png")),
      /--noise: the noise is not finite: value 0 \(sample 0\) is NaN/,
    );
    expect(existsSync(join(dir, "z.png"))).toBe(false);
  });
});

describe("8. nothing given is silently ignored or read as 0", () => {
  test("empty values, empty list items, flags that do not apply, extra arguments: exit 2", async () => {
    const out = ["-o", join(dir, "x.png")];
    usage(await cli("sample", "--class", "", ...out), /--class: empty value/);
    usage(await cli("sample", "--class", "1,,2", ...out), /--class: an empty class in '1,,2'/);
    usage(await cli("sample", "--cfg", "", ...out), /--cfg: empty value/);
    usage(await cli("sample", "--cfg=", ...out), /--cfg: empty value/);
    usage(await cli("sample", "--plan", "fast", "--steps", "50", ...out), /--steps: steps go with a solver/);
    usage(
      await cli(
        "convert",
        goldenPath("sit/sit.safetensors"),
        "--heads",
        "4",
        "--entry",
        "ema",
        "-o",
        join(dir, "x.onnx"),
      ),
      /CHECKPOINT sit\.safetensors: entry 'ema' applies to \.pt training checkpoints/,
    );
    usage(
      await cli(
        "convert",
        goldenPath("sit/sit.pt"),
        "--heads",
        "4",
        "--entry",
        "ema",
        "-o",
        join(dir, "x.onnx"),
      ),
      /sit\.pt: no \{"model", "ema"\} entries \(a plain state dict\): entry 'ema' does not apply/,
    );
    usage(
      await cli("sample", "extra", ...out),
      /unexpected argument 'extra' \(this command takes only options/,
    );
    usage(
      await cli("convert", "a.pt", "b.pt", "-o", "x.onnx"),
      /unexpected argument 'b\.pt' \(this command takes at most 1/,
    );
    usage(await cli("models", "verify", EMBEDDED, "more"), /unexpected argument 'more'/);
    usage(await cli("eval", "fid", "a", "b", "c"), /unexpected argument 'c'/);
    usage(await cli("doctor", "now"), /unexpected argument 'now'/);
    expect(existsSync(join(dir, "x.png"))).toBe(false);
  });
});

describe("12. outputs are checked before the work", () => {
  test("unwritable places, folders for files, bad extensions: exit 2 with nothing computed or written", async () => {
    // /proc takes no new files, even for root: the probe fails where a permission check would pass
    const proc = await cli("sample", "-o", "/proc/flowturbo-x.png");
    usage(proc, /-o \/proc\/flowturbo-x\.png: cannot write in \/proc/);
    expect(proc.err).not.toMatch(/samples \d/); // no progress: nothing was sampled
    await mkdir(join(dir, "somedir.png"));
    usage(await cli("sample", "-o", join(dir, "somedir.png")), /somedir\.png is a folder; give a file name/);
    usage(
      await cli("sample", "--latents-out", join(dir, "somedir.png")),
      /--latents-out .*somedir\.png is a folder/,
    );
    usage(
      await cli("sample", "--n", "2000", "-o", join(dir, "big.png")),
      /a PNG grid holds at most 1024 images, not 2000/,
    );
    const bench = await cli("bench", "--plot", "/proc/b.svg");
    usage(bench, /--plot \/proc\/b\.svg: cannot write in \/proc/);
    expect(bench.out).toBe("");
    const images = join(dir, "images");
    await mkdir(images);
    await writeFile(
      join(images, "0.png"),
      await encodePng({ width: 2, height: 2, data: new Uint8Array(12) }),
    );
    usage(
      await cli("eval", "stats", images, "-o", "/proc/s.npz", "--inception", EMBEDDED),
      /-o \/proc\/s\.npz: cannot write in \/proc/,
    );
    const latents = join(dir, "lat.safetensors");
    await writeFile(
      latents,
      encodeSafetensors(new Map([["latents", Tensor.zeros("float32", [1, 4, 4, 4])]])),
    );
    const raw = join(dir, "raw.safetensors");
    usage(
      await cli(
        "decode",
        latents,
        "--vae",
        await goldenVaeFolder(dir),
        "--raw-out",
        raw,
        "-o",
        join(dir, "x.bmp"),
      ),
      /-o .*x\.bmp: images are written as a \.png grid, an ADM \.npz batch or a folder of PNGs/,
    );
    expect(existsSync(raw)).toBe(false);
    usage(
      await cli("convert", goldenPath("sit/sit.pt"), "-o", "/proc/x.onnx"),
      /-o \/proc\/x\.onnx: cannot write in \/proc/,
    );
    // a folder that does not exist yet is created, by convert as by sample
    const onnx = join(dir, "new", "deeper", "sit.onnx");
    const c = await cli("convert", goldenPath("sit/sit.pt"), "--heads", "4", "-o", onnx);
    expect(c.code, c.err).toBe(EXIT.ok);
    expect(existsSync(onnx) && existsSync(onnx.replace(/onnx$/, "json"))).toBe(true);
  });
});

describe("15 and 19. --help describes every option with its real default", () => {
  test("each option of each command has a description; defaults as the code uses them", async () => {
    for (const c of COMMANDS) {
      const help = (await cli(c.name, "--help")).out;
      const lines = help.split("\n").filter((l) => /^ {2}(-\w, )?--[\w-]+/.test(l));
      expect(lines.length, c.name).toBeGreaterThan(1);
      // the flag column, then a description (on the line, or on the next for long flags)
      for (const name of Object.keys(c.options))
        expect(help, `${c.name} --${name}`).toMatch(
          new RegExp(`--${name}(\\s\\S+)?\\s+\\S.*|--${name}.*\\n\\s+\\S`),
        );
      expect(help).not.toMatch(/<value>/);
    }
    const sample = (await cli("sample", "--help")).out;
    expect(sample).toMatch(
      /--batch B +samples per model call \(1\.\.4096\).* \(default: min\(n, 16\); 16 with --shard\/--range\)/,
    );
    // 19: the default CFG is the model's recommended one, and --help says which the embedded model records
    expect(sample).toMatch(
      /--cfg S +classifier-free guidance scale.*\(default: the model's recommended scale \(its flowturbo\.sampling metadata; the embedded model: [^)]+\), else 1\)/,
    );
    const bench = (await cli("bench", "--help")).out;
    expect(bench).toMatch(/--heun STEPS +Heun baselines, comma-separated step counts \(default: 4,8\)/);
    expect(bench).toMatch(/--base MODEL +.*\(default: the embedded emoji model/);
    expect(bench).not.toMatch(/8,11,15,24|\[--cfg 1\.5\]/);
    expect((await cli("train-refiner", "--help")).out).toMatch(
      /--lr LR +AdamW learning rate, in \[0, 1\] \(default: 0\.00005\)/,
    );
  });
});

describe("12 and 15. bench runs as sample does", () => {
  test("without --base: the embedded model; --plot into a folder that does not exist yet", async () => {
    const plot = join(dir, "missing", "b.svg");
    const r = await cli(
      "bench",
      "--plans",
      "H1P1R1",
      "--heun",
      "1",
      "--n",
      "2",
      "--repeats",
      "1",
      "--plot",
      plot,
      "--json",
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    const report = JSON.parse(r.out);
    expect(report.model).toBe("base.safetensors");
    expect(report.rows.map((x: { method: string; nfe: object }) => [x.method, x.nfe])).toEqual([
      ["H1P1R1", { base: 3, refiner: 2 }],
      ["heun:1", { base: 2, refiner: 0 }],
    ]);
    expect(await readFile(plot, "utf8")).toMatch(/^<svg/);
  });
});

describe("16. exit codes: 2 for every usage error, 1 for failures", () => {
  test("every command: an unknown flag and one argument too many exit 2", async () => {
    for (const c of COMMANDS) {
      const flag = await cli(c.name, "--no-such-flag");
      expect(flag.code, c.name).toBe(EXIT.usage);
      expect(flag.err).toMatch(/Unknown option '--no-such-flag'/);
      const args = Array.from({ length: (c.positionals ?? 0) + 1 }, (_, i) => `arg${i}`);
      usage(
        await cli(c.name, ...args),
        /unexpected argument|unknown .*subcommand|file not found|no such file/,
      );
    }
  });

  test("bad values found at any stage are usage errors; --rtol is named as itself", async () => {
    usage(
      await cli("sample", "--seed", "1e30", "-o", join(dir, "s.png")),
      /--seed must be an integer in 0\.\.9007199254740991, got '1e30'/,
    );
    usage(
      await cli("bench", "--seed", "1e30"),
      /--seed must be an integer in 0\.\.9007199254740991, got '1e30'/,
    );
    usage(await cli("bench", "--plans", "bogus"), /--plans: .*bogus/);
    usage(await cli("bench", "--solvers", "foo:3"), /--solvers: solver must be one of euler, .* got 'foo'/);
    usage(await cli("bench", "--rtol=0"), /--rtol must be a number in \(0, 1\), got '0'/);
    const latents = join(dir, "lat3.safetensors");
    await writeFile(
      latents,
      encodeSafetensors(new Map([["latents", Tensor.zeros("float32", [1, 3, 4, 4])]])),
    );
    usage(
      await cli(
        "decode",
        latents,
        "--vae",
        await goldenVaeFolder(join(dir, "v3")),
        "-o",
        join(dir, "d3.png"),
      ),
      /lat3\.safetensors: 'latents' has 3 channels, the VAE decodes 4-channel latents/,
    );
    // a model file that is not one: usage (the file given is wrong), named with its flag
    const notModel = await cli("sample", "--base", goldenPath("README.md"), "-o", join(dir, "r.png"));
    usage(notModel, /--base README\.md: not a \.pt \(zip\), \.safetensors or \.onnx file/);
  });
});

describe("17. every message names the file and the fault", () => {
  test("metadata JSON, safetensors headers, folders given as files, empty inputs, FID of identical statistics", async () => {
    const badJson = await editedModel("badjson.safetensors", (m) => {
      m.metadata["flowturbo.config"] = '{"kind": "sit", config: 1}';
    });
    usage(
      await cli("sample", "--base", badJson, "-o", join(dir, "b.png")),
      /--base badjson\.safetensors: metadata 'flowturbo\.config' is not valid JSON \(/,
    );
    const header = new TextEncoder().encode("[1,2,3] ");
    const array = new Uint8Array(8 + header.length);
    new DataView(array.buffer).setBigUint64(0, BigInt(header.length), true);
    array.set(header, 8);
    await writeFile(join(dir, "array.safetensors"), array);
    usage(
      await cli("sample", "--base", join(dir, "array.safetensors"), "-o", join(dir, "a.png")),
      /array\.safetensors: safetensors header is not a JSON object/,
    );
    usage(
      await cli("decode", dir, "--vae", dir, "-o", join(dir, "d.png")),
      /LATENTS \(first argument\): .* is a folder, expected a file/,
    );
    await mkdir(join(dir, "empty"));
    usage(
      await cli("eval", "fid", join(dir, "empty"), "emoji", "--features", "emoji"),
      /empty: no images \(\.jpg, \.jpeg, \.png, \.webp\) in the folder/,
    );
    const zero = join(dir, "zero.npz");
    await saveNpzFile(zero, new Map([["arr_0", new Tensor("uint8", [0, 8, 8, 3], new Uint8Array(0))]]));
    usage(
      await cli("eval", "fid", zero, "emoji", "--features", "emoji"),
      /zero\.npz: a sample npz with 0 images/,
    );
    // FID of identical statistics is 0.0000 (never -0.0000)
    const stats = join(dir, "stats.npz");
    const d = 4;
    const sigma = new Float64Array(d * d);
    for (let i = 0; i < d; i++) sigma[i * d + i] = 1 + i;
    await writeStatsFile(stats, { pool: { dim: d, mu: new Float64Array(d).fill(0.3), sigma, n: 10 } });
    const fid = await cli("eval", "fid", stats, stats);
    expect(fid.code, fid.err).toBe(EXIT.ok);
    expect(fid.out).toMatch(/^FID +0\.0000$/m);
    // a corrupt image among the inputs: the file and the fault named
    const classes = join(dir, "classes");
    await mkdir(join(classes, "cat"), { recursive: true });
    const png = await encodePng({ width: 32, height: 32, data: new Uint8Array(3072).fill(90) });
    await writeFile(join(classes, "cat", "0.png"), png);
    await writeFile(join(classes, "cat", "1.png"), png.subarray(0, 40));
    usage(
      await cli("train-base", "--out", join(dir, "never"), "--images", classes, "--steps", "1"),
      /--images: .*cat\/1\.png: not a readable image: corrupt, truncated or of another format \(/,
    );
    expect(existsSync(join(dir, "never"))).toBe(false);
  });
});
