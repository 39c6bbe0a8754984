// Writes packages/data/assets/emoji32-subcategories.json: the Unicode subcategory ("subgroup", e.g.
// "face-smiling", "animal-bird") of every emoji of the dataset, keyed by its short name (skin-tone variants
// share their base emoji's name), from the same emoji.json files build.ts reads. @flowturbo/data's
// emoji groups (EMOJI_GROUPS) are unions of these subcategories.
//
//   pnpm --filter @flowturbo/emoji-dataset build-subcategories [-- --out path]
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EMOJI_EXCLUDED_CATEGORIES } from "@flowturbo/data";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

interface EmojiEntry {
  short_name: string;
  category: string;
  subcategory: string;
  sort_order: number;
}

const byName: Record<string, string> = {};
const subcategories: string[] = [];
for (const set of ["google", "twitter"]) {
  const entries = (require(`emoji-datasource-${set}/emoji.json`) as EmojiEntry[])
    .slice()
    .sort((a, b) => a.sort_order - b.sort_order);
  for (const e of entries) {
    if (EMOJI_EXCLUDED_CATEGORIES.includes(e.category)) continue;
    const sub = `${e.category}/${e.subcategory}`;
    if (!subcategories.includes(sub)) subcategories.push(sub);
    const prev = byName[e.short_name];
    if (prev !== undefined && prev !== sub)
      throw new Error(`${e.short_name}: subcategory ${prev} in one set, ${sub} in the other`);
    byName[e.short_name] = sub;
  }
}
const outIdx = process.argv.indexOf("--out");
const out =
  outIdx > 0
    ? resolve(process.argv[outIdx + 1])
    : resolve(here, "../../packages/data/assets/emoji32-subcategories.json");
const pkg = require("emoji-datasource-google/package.json") as { version: string };
const json = {
  description:
    "Unicode subcategory ('category/subcategory') of each emoji of emoji32.npz by short name (meta.json 'names' up to the ':' of skin-tone variants)",
  source: `emoji-datasource-google and emoji-datasource-twitter ${pkg.version} emoji.json`,
  subcategories,
  names: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, subcategories.indexOf(v)])),
};
writeFileSync(out, `${JSON.stringify(json)}\n`);
console.log(`${out}: ${Object.keys(byName).length} emoji in ${subcategories.length} subcategories`);
