import { describe, expect, test } from "vitest";
import { EMOJI_CATEGORIES, EMOJI_GROUP_CATEGORY, EMOJI_GROUP_NAMES, EMOJI_GROUPS } from "../src";
import { loadEmojiDataset, loadEmojiGroupLabels, loadEmojiSubcategories } from "../src/node";

describe("emoji groups", () => {
  test("every subcategory of the dataset is in exactly one group, inside its category", async () => {
    const table = await loadEmojiSubcategories();
    expect(table.subcategories).toHaveLength(98);
    for (const sub of table.subcategories) {
      const [category, subcategory] = [sub.slice(0, sub.indexOf("/")), sub.slice(sub.indexOf("/") + 1)];
      const owners = EMOJI_GROUPS.filter(
        (g) => g.subcategories.includes(subcategory) && g.category === category,
      );
      expect(
        owners.map((g) => g.name),
        sub,
      ).toHaveLength(1);
    }
    // no group names a subcategory the table does not have
    const known = new Set(table.subcategories.map((s) => s.slice(s.indexOf("/") + 1)));
    for (const g of EMOJI_GROUPS) for (const s of g.subcategories) expect(known.has(s), s).toBe(true);
  });

  test("names are unique, usable in --class lists, and nest in the categories", () => {
    expect(new Set(EMOJI_GROUP_NAMES.map((n) => n.toLowerCase())).size).toBe(24);
    for (const n of EMOJI_GROUP_NAMES) expect(n).not.toMatch(/,/);
    expect(EMOJI_GROUP_CATEGORY.every((c) => c >= 0 && c < EMOJI_CATEGORIES.length)).toBe(true);
    // every category has at least one group
    expect(new Set(EMOJI_GROUP_CATEGORY).size).toBe(EMOJI_CATEGORIES.length);
  });

  test("group labels of the dataset agree with its category labels", async () => {
    const ds = await loadEmojiDataset();
    const groups = await loadEmojiGroupLabels(ds);
    expect(groups.length).toBe(ds.length);
    const counts = new Array(24).fill(0);
    for (let i = 0; i < ds.length; i++) {
      counts[groups[i]]++;
      expect(EMOJI_GROUP_CATEGORY[groups[i]]).toBe(ds.labels[i]);
    }
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(50);
    expect(counts[EMOJI_GROUP_NAMES.indexOf("flags")]).toBe(540);
  });
});
