import { describe, expect, it } from "vitest";
import {
  ClassMapError,
  IMAGENET_SYNSETS,
  isImagenetSynset,
  parseClassMap,
  resolveClassMap,
} from "../src/index";

describe("ImageNet synsets", () => {
  it("are the 1000 sorted ILSVRC2012 synsets", () => {
    expect(IMAGENET_SYNSETS).toHaveLength(1000);
    expect(new Set(IMAGENET_SYNSETS).size).toBe(1000);
    expect([...IMAGENET_SYNSETS].sort()).toEqual(IMAGENET_SYNSETS);
    expect(IMAGENET_SYNSETS[0]).toBe("n01440764"); // tench
    expect(IMAGENET_SYNSETS[207]).toBe("n02099601"); // golden retriever
    expect(IMAGENET_SYNSETS[999]).toBe("n15075141"); // toilet tissue
    expect(isImagenetSynset("n02099601")).toBe(true);
    expect(isImagenetSynset("n00000000")).toBe(false);
  });
});

describe("parseClassMap", () => {
  it("reads JSON objects, JSON arrays and 'name id' lines", () => {
    expect(parseClassMap('{"cat": 281, "dog": 207}')).toEqual(
      new Map([
        ["cat", 281],
        ["dog", 207],
      ]),
    );
    expect(parseClassMap('["a", "b"]')).toEqual(
      new Map([
        ["a", 0],
        ["b", 1],
      ]),
    );
    expect(parseClassMap("# comment\ncat 281\n\n tabby cat\t282 # why not\n")).toEqual(
      new Map([
        ["cat", 281],
        ["tabby cat", 282],
      ]),
    );
  });

  it("rejects malformed maps naming the file and line", () => {
    expect(() => parseClassMap("cat\n", "m.txt")).toThrow(/m\.txt: line 1: expected '<name> <id>'/);
    expect(() => parseClassMap('{"cat": -1}', "m.json")).toThrow(/m\.json: .*non-negative integer/);
    expect(() => parseClassMap('{"cat": 1.5}')).toThrow(ClassMapError);
    expect(() => parseClassMap("cat 1\ncat 2")).toThrow(/mapped twice/);
    expect(() => parseClassMap("{")).toThrow(/invalid JSON/);
    expect(() => parseClassMap("")).toThrow(/no classes/);
  });
});

describe("resolveClassMap", () => {
  it("refuses to turn cat/dog into ImageNet classes 0 and 1 without a map", () => {
    let err: unknown;
    try {
      resolveClassMap(["dog", "cat"], { numClasses: 1000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ClassMapError);
    const msg = (err as Error).message;
    expect(msg).toContain("'cat', 'dog'");
    expect(msg).toContain("2 class folders");
    expect(msg).toContain("1000 classes");
    expect(msg).toContain('"folder-order"');
    expect(msg).toContain("--class-map");
  });

  it("refuses even when the counts match", () => {
    expect(() => resolveClassMap(["a", "b"], { numClasses: 2 })).toThrow(ClassMapError);
  });

  it("folder-order is the explicit acknowledgement: sorted names -> 0..k-1", () => {
    const r = resolveClassMap(["dog", "cat", "cat"], { numClasses: 2, classMap: "folder-order" });
    expect(r.mode).toBe("folder-order");
    expect([...r.ids]).toEqual([
      ["cat", 0],
      ["dog", 1],
    ]);
    expect(() => resolveClassMap(["a", "b", "c"], { numClasses: 2, classMap: "folder-order" })).toThrow(
      /3 class folders .* only 2 classes/,
    );
  });

  it("maps ImageNet synsets automatically for a 1000-class model only", () => {
    const r = resolveClassMap(["n02099601", "n01440764"], { numClasses: 1000 });
    expect(r.mode).toBe("imagenet-auto");
    expect(r.ids.get("n02099601")).toBe(207);
    expect(r.ids.get("n01440764")).toBe(0);
    expect(() => resolveClassMap(["n02099601"], { numClasses: 10 })).toThrow(/ImageNet synsets/);
    expect(() => resolveClassMap(["n02099601", "cats"], { numClasses: 1000 })).toThrow(ClassMapError);
    expect(() => resolveClassMap(["cats"], { numClasses: 1000, classMap: "imagenet" })).toThrow(
      /not ImageNet-1k synsets: 'cats'/,
    );
  });

  it("applies explicit maps and checks them", () => {
    const r = resolveClassMap(["cat", "dog"], {
      numClasses: 1000,
      classMap: { cat: 281, dog: 207, fox: 277 },
    });
    expect(r.ids.get("cat")).toBe(281);
    expect(r.ids.get("dog")).toBe(207);
    expect(() =>
      resolveClassMap(["cat", "eel"], { numClasses: 1000, classMap: new Map([["cat", 1]]) }),
    ).toThrow(/no entry for 1 of the dataset's 2 class folders: 'eel'/);
    expect(() => resolveClassMap(["cat"], { numClasses: 10, classMap: { cat: 281 } })).toThrow(
      /outside the model's classes 0\.\.9/,
    );
  });
});
