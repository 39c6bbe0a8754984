// Builds packages/data/assets/emoji32.npz: every 64x64 emoji PNG of emoji-datasource-google and
// emoji-datasource-twitter (16.0.0; skin-tone variants included), composited on white, reduced to 32x32
// with ADM's center_crop_arr (a 2x BOX downsample: @flowturbo/data's Pillow-exact resampler), labelled
// with its Unicode category. Deterministic: the same packages give the same bytes.
//
//   pnpm --filter @flowturbo/emoji-dataset build-dataset [-- --out path]
//
// Output: a NumPy .npz with deflate-compressed members (np.load reads it, and so does
// @flowturbo/tensor's openNpz):
//   images  uint8 [N, 32, 32, 3]   NHWC
//   labels  uint8 [N]              index into EMOJI_CATEGORIES
//   source  uint8 [N]              0 = google (Noto Emoji), 1 = twitter (Twemoji)
//   variant uint8 [N]              0 = base emoji, 1 = skin-tone variant
//   meta.json                      categories, per-image code points and short names, provenance, licenses

import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateRawSync } from "node:zlib";
import { centerCropArr, EMOJI_CATEGORIES, EMOJI_EXCLUDED_CATEGORIES } from "@flowturbo/data";
import { writeFileStreaming } from "@flowturbo/tensor/node";
import { crc32, npyHeaderBytes, Tensor } from "@flowturbo/tensor";
import sharp from "sharp";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const SIZE = 32;
const SETS = ["google", "twitter"] as const;

interface EmojiEntry {
  unified: string;
  short_name: string;
  image: string;
  category: string;
  sort_order: number;
  skin_variations?: Record<string, { unified: string; image: string } & Record<string, unknown>>;
  [key: string]: unknown;
}

interface Item {
  set: number;
  file: string;
  unified: string;
  name: string;
  label: number;
  variant: number;
}

function listItems(): Item[] {
  const items: Item[] = [];
  SETS.forEach((set, s) => {
    const entries = (require(`emoji-datasource-${set}/emoji.json`) as EmojiEntry[])
      .slice()
      .sort((a, b) => a.sort_order - b.sort_order);
    const imgDir = join(dirname(require.resolve(`emoji-datasource-${set}/package.json`)), "img", set, "64");
    for (const e of entries) {
      if (EMOJI_EXCLUDED_CATEGORIES.includes(e.category)) continue;
      const label = EMOJI_CATEGORIES.indexOf(e.category);
      if (label < 0) throw new Error(`unknown emoji category '${e.category}' (${e.short_name})`);
      if (e[`has_img_${set}`]) {
        items.push({
          set: s,
          file: join(imgDir, e.image),
          unified: e.unified,
          name: e.short_name,
          label,
          variant: 0,
        });
      }
      for (const key of Object.keys(e.skin_variations ?? {}).sort()) {
        const v = e.skin_variations![key];
        if (!v[`has_img_${set}`]) continue;
        items.push({
          set: s,
          file: join(imgDir, v.image),
          unified: v.unified,
          name: `${e.short_name}:${key}`,
          label,
          variant: 1,
        });
      }
    }
  });
  return items;
}

/** Decodes a PNG to RGBA, composites it on white (rounded), returns 64x64 RGB. */
async function loadOnWhite(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(file, { ignoreIcc: true }).ensureAlpha().raw().toBuffer({
    resolveWithObject: true,
  });
  const n = info.width * info.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = data[4 * i + 3];
    for (let c = 0; c < 3; c++) {
      out[3 * i + c] = Math.floor((data[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
    }
  }
  return { width: info.width, height: info.height, data: out };
}

/** A zip of deflate-compressed members (fixed 1980-01-01 timestamps; no ZIP64: the file is small). */
function deflatedZip(members: { name: string; data: Uint8Array }[]): Uint8Array[] {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = enc.encode(m.name);
    const comp = deflateRawSync(m.data, { level: 9, memLevel: 9 });
    const crc = crc32(m.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 8, true); // deflate
    lv.setUint16(12, 0x21, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, comp.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const cent = new Uint8Array(46 + name.length);
    const cv = new DataView(cent.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, 8, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, comp.length, true);
    cv.setUint32(24, m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    cent.set(name, 46);
    chunks.push(local, comp);
    central.push(cent);
    offset += local.length + comp.length;
  }
  let cdSize = 0;
  for (const c of central) {
    chunks.push(c);
    cdSize += c.length;
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  chunks.push(end);
  return chunks;
}

function npy(t: Tensor): Uint8Array {
  const header = npyHeaderBytes(t.dtype, t.shape);
  const out = new Uint8Array(header.length + t.data.byteLength);
  out.set(header);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), header.length);
  return out;
}

async function main(): Promise<void> {
  const outIdx = process.argv.indexOf("--out");
  const out =
    outIdx > 0 ? resolve(process.argv[outIdx + 1]) : resolve(here, "../../packages/data/assets/emoji32.npz");
  const items = listItems();
  const n = items.length;
  const images = new Uint8Array(n * SIZE * SIZE * 3);
  const t0 = performance.now();
  const batch = 64;
  for (let i = 0; i < n; i += batch) {
    const part = items.slice(i, i + batch);
    const decoded = await Promise.all(part.map((it) => loadOnWhite(it.file)));
    decoded.forEach((img, j) => {
      if (img.width !== 64 || img.height !== 64) throw new Error(`${part[j].file}: expected 64x64`);
      images.set(centerCropArr(img, SIZE).data, (i + j) * SIZE * SIZE * 3);
    });
  }
  const u8 = (f: (it: Item) => number) => Uint8Array.from(items, f);
  const pkg = (set: string) => require(`emoji-datasource-${set}/package.json`) as { version: string };
  const meta = {
    description:
      "64x64 emoji PNGs of emoji-datasource-google and emoji-datasource-twitter composited on white and reduced to 32x32 (ADM center_crop_arr: 2x BOX); label = Unicode emoji category",
    size: SIZE,
    categories: EMOJI_CATEGORIES,
    excludedCategories: EMOJI_EXCLUDED_CATEGORIES,
    sources: SETS.map((s) => ({ package: `emoji-datasource-${s}`, version: pkg(s).version })),
    licenses: {
      google: "Noto Emoji images: Apache License 2.0 (https://github.com/googlefonts/noto-emoji)",
      twitter:
        "Twemoji graphics: CC-BY 4.0, Copyright Twitter, Inc and other contributors (https://github.com/jdecked/twemoji)",
    },
    unified: items.map((it) => it.unified),
    names: items.map((it) => it.name),
  };
  const members = [
    { name: "images.npy", data: npy(new Tensor("uint8", [n, SIZE, SIZE, 3], images)) },
    {
      name: "labels.npy",
      data: npy(
        new Tensor(
          "uint8",
          [n],
          u8((it) => it.label),
        ),
      ),
    },
    {
      name: "source.npy",
      data: npy(
        new Tensor(
          "uint8",
          [n],
          u8((it) => it.set),
        ),
      ),
    },
    {
      name: "variant.npy",
      data: npy(
        new Tensor(
          "uint8",
          [n],
          u8((it) => it.variant),
        ),
      ),
    },
    { name: "meta.json", data: new TextEncoder().encode(JSON.stringify(meta)) },
  ];
  await writeFileStreaming(out, deflatedZip(members));
  const counts = EMOJI_CATEGORIES.map((c, k) => `${c}: ${items.filter((it) => it.label === k).length}`);
  console.log(`${n} images (${counts.join(", ")})`);
  console.log(
    `${out}: ${statSync(out).size} bytes (raw ${images.length}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

await main();
