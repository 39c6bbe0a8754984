// Finer classes for the emoji dataset: 24 groups, each a union of Unicode subcategories ("subgroups" of
// emoji.json) inside one of the 9 categories, chosen to be visually coherent (faces, hands, flags,
// keycaps...) and not too small. The subcategory of every emoji ships beside the dataset
// (assets/emoji32-subcategories.json, built by tools/emoji-dataset); `emojiGroupLabels` turns it into
// group ids. Groups nest in categories, so a group prediction gives a category (EMOJI_GROUP_CATEGORY).
import { EMOJI_CATEGORIES, type EmojiDataset } from "./emoji";

export interface EmojiGroup {
  /** Class name (no commas: `--class` lists are comma-separated). */
  name: string;
  /** The Unicode category that holds every subcategory of the group. */
  category: string;
  /** Unicode subcategories (emoji.json "subcategory"). */
  subcategories: readonly string[];
}

/** The 24 emoji groups, in category order (class id = index). */
export const EMOJI_GROUPS: readonly EmojiGroup[] = Object.freeze([
  {
    name: "faces",
    category: "Smileys & Emotion",
    subcategories: [
      "face-smiling",
      "face-affection",
      "face-tongue",
      "face-hand",
      "face-neutral-skeptical",
      "face-sleepy",
      "face-unwell",
      "face-hat",
      "face-glasses",
      "face-concerned",
      "face-negative",
      "face-costume",
      "cat-face",
      "monkey-face",
    ],
  },
  { name: "hearts & emotion", category: "Smileys & Emotion", subcategories: ["heart", "emotion"] },
  {
    name: "hands & body",
    category: "People & Body",
    subcategories: [
      "hand-fingers-open",
      "hand-fingers-partial",
      "hand-single-finger",
      "hand-fingers-closed",
      "hands",
      "hand-prop",
      "body-parts",
    ],
  },
  {
    name: "people",
    category: "People & Body",
    subcategories: ["person", "person-gesture", "person-role", "person-fantasy", "person-symbol"],
  },
  {
    name: "people in action",
    category: "People & Body",
    subcategories: ["person-activity", "person-sport", "person-resting"],
  },
  { name: "families & couples", category: "People & Body", subcategories: ["family"] },
  { name: "mammals", category: "Animals & Nature", subcategories: ["animal-mammal"] },
  {
    name: "other animals",
    category: "Animals & Nature",
    subcategories: ["animal-bird", "animal-amphibian", "animal-reptile", "animal-marine", "animal-bug"],
  },
  { name: "plants", category: "Animals & Nature", subcategories: ["plant-flower", "plant-other"] },
  { name: "fruit & vegetables", category: "Food & Drink", subcategories: ["food-fruit", "food-vegetable"] },
  {
    name: "dishes & sweets",
    category: "Food & Drink",
    subcategories: ["food-prepared", "food-asian", "food-sweet"],
  },
  { name: "drinks & dishware", category: "Food & Drink", subcategories: ["drink", "dishware"] },
  {
    name: "places & buildings",
    category: "Travel & Places",
    subcategories: [
      "place-map",
      "place-geographic",
      "place-building",
      "place-religious",
      "place-other",
      "hotel",
    ],
  },
  {
    name: "transport",
    category: "Travel & Places",
    subcategories: ["transport-ground", "transport-water", "transport-air"],
  },
  { name: "sky & time", category: "Travel & Places", subcategories: ["time", "sky & weather"] },
  {
    name: "activities",
    category: "Activities",
    subcategories: ["event", "award-medal", "sport", "game", "arts & crafts"],
  },
  { name: "clothing", category: "Objects", subcategories: ["clothing"] },
  {
    name: "music & tech",
    category: "Objects",
    subcategories: ["sound", "music", "musical-instrument", "phone", "computer", "light & video"],
  },
  {
    name: "paper & office",
    category: "Objects",
    subcategories: ["book-paper", "money", "mail", "writing", "office"],
  },
  {
    name: "tools & household",
    category: "Objects",
    subcategories: ["lock", "tool", "science", "medical", "household", "other-object"],
  },
  { name: "keycaps & letters", category: "Symbols", subcategories: ["keycap", "alphanum"] },
  { name: "geometric shapes", category: "Symbols", subcategories: ["geometric"] },
  {
    name: "signs & arrows",
    category: "Symbols",
    subcategories: [
      "transport-sign",
      "warning",
      "arrow",
      "religion",
      "zodiac",
      "av-symbol",
      "gender",
      "math",
      "punctuation",
      "currency",
      "other-symbol",
    ],
  },
  { name: "flags", category: "Flags", subcategories: ["flag", "country-flag", "subdivision-flag"] },
]);

/** Group names (class id = index). */
export const EMOJI_GROUP_NAMES: readonly string[] = Object.freeze(EMOJI_GROUPS.map((g) => g.name));

/** The category id (index into EMOJI_CATEGORIES) of each group id. */
export const EMOJI_GROUP_CATEGORY: readonly number[] = Object.freeze(
  EMOJI_GROUPS.map((g) => EMOJI_CATEGORIES.indexOf(g.category)),
);

/** File name of the subcategory table beside the dataset (`@flowturbo/data/emoji32-subcategories.json`). */
export const EMOJI_SUBCATEGORIES_FILE = "emoji32-subcategories.json";

/** The subcategory table: "category/subcategory" names, and each emoji's index into them by short name. */
export interface EmojiSubcategoryTable {
  subcategories: readonly string[];
  names: Readonly<Record<string, number>>;
}

/** The short name of image i's emoji (skin-tone variants "wave:1F3FB" -> "wave"). */
export function emojiBaseName(ds: EmojiDataset, i: number): string {
  const name = ds.names[i];
  if (name === undefined) throw new Error(`emoji dataset: image ${i} has no name (meta.json 'names')`);
  const colon = name.indexOf(":");
  return colon < 0 ? name : name.slice(0, colon);
}

/** The group id of a "category/subcategory", checked against the group table. */
function groupOf(sub: string): number {
  const slash = sub.indexOf("/");
  const category = sub.slice(0, slash);
  const subcategory = sub.slice(slash + 1);
  const k = EMOJI_GROUPS.findIndex((g) => g.category === category && g.subcategories.includes(subcategory));
  if (k < 0) throw new Error(`emoji groups: subcategory '${sub}' belongs to no group`);
  return k;
}

/**
 * Group ids of every image of the dataset. Fails if an image's emoji is missing from the table, if a
 * subcategory belongs to no group, or if a group disagrees with the image's category label.
 */
export function emojiGroupLabels(ds: EmojiDataset, table: EmojiSubcategoryTable): Uint8Array {
  const ofSub = table.subcategories.map(groupOf);
  const out = new Uint8Array(ds.length);
  for (let i = 0; i < ds.length; i++) {
    const base = emojiBaseName(ds, i);
    const s = table.names[base];
    if (s === undefined)
      throw new Error(`emoji groups: '${base}' (image ${i}) is not in the subcategory table`);
    const g = ofSub[s];
    if (EMOJI_GROUP_CATEGORY[g] !== ds.labels[i])
      throw new Error(
        `emoji groups: '${base}' is in group '${EMOJI_GROUPS[g].name}' (${EMOJI_GROUPS[g].category}) but labelled ${ds.categories[ds.labels[i]]}`,
      );
    out[i] = g;
  }
  return out;
}
