// The page's fields and URL parameters: what the pipeline's rules say about them, shown next to the
// field at fault, and the menus the page offers (those of the pipeline).
import { BASELINE_SOLVERS, COMPILE_LEVELS, INTERACTIVE_LIMITS } from "@flowturbo/pipeline";
import { describe, expect, test } from "vitest";
import { DEFAULTS } from "../src/defaults";
import {
  COMPILE_CHOICES,
  type FormValues,
  METHOD_CHOICES,
  parseQuery,
  readForm,
  resolveClass,
  urlProblems,
} from "../src/fields";
import { labelsFor } from "../src/labels";

const MODEL = { numClasses: 9, hasRefiner: true, classNames: ["Smileys", "People", "Animals"] };
const form = (v: Partial<FormValues> = {}): FormValues => ({
  cls: DEFAULTS.cls,
  method: DEFAULTS.method,
  plan: DEFAULTS.plan,
  steps: String(DEFAULTS.steps),
  cfg: "1",
  seed: String(DEFAULTS.seed),
  count: String(DEFAULTS.count),
  batch: DEFAULTS.batch,
  compile: DEFAULTS.compile,
  preview: true,
  ...v,
});
const problems = (v: Partial<FormValues>, model = MODEL) =>
  Object.fromEntries(readForm(form(v), model).problems.map((p) => [p.field, p.message]));

describe("readForm", () => {
  test("the defaults make a request: random classes as the CLI draws them, the pipeline's batch", () => {
    const { request, problems } = readForm(form(), MODEL);
    expect(problems).toEqual([]);
    expect(request).toEqual({
      labels: labelsFor("random", 9, 0, 9),
      method: { plan: "H1P5R3" },
      cfg: 1,
      seed: 0,
      batch: undefined,
      compile: undefined,
      preview: true,
    });
    expect(
      readForm(form({ cls: "4", batch: "20", count: "3", compile: "model" }), MODEL).request,
    ).toMatchObject({
      labels: [4, 4, 4],
      batch: 3,
      compile: "model",
    });
  });

  test("empty fields are missing values, not 0; each problem is named at its field", () => {
    expect(problems({ cfg: "", seed: " " })).toEqual({
      cfg: "guidance scale must be a number in 0..100 (1 = no guidance), it is empty or not a number",
      seed: `seed must be an integer in 0..${Number.MAX_SAFE_INTEGER}, it is empty or not a number`,
    });
    expect(problems({ cfg: "1000000", count: "500", batch: "0" })).toEqual({
      cfg: "guidance scale must be a number in 0..100 (1 = no guidance), got 1000000",
      count: `the number of samples must be in 1..${INTERACTIVE_LIMITS.samples}, got 500`,
      batch: `batch must be an integer in 1..${INTERACTIVE_LIMITS.batch}, got 0`,
    });
    expect(problems({ method: "heun", steps: "100000" })).toEqual({
      steps: "steps must be an integer in 1..1000, got 100000",
    });
    expect(problems({ method: "heun", steps: "" })).toEqual({ steps: "solver heun needs a number of steps" });
    expect(problems({ plan: "H500P500R500" }).plan).toMatch(/has 1500 steps; at most 1000/);
    expect(problems({ plan: "H1X" }).plan).toMatch(/unknown block 'X'/);
    expect(problems({ plan: "H1P2R2" }, { ...MODEL, hasRefiner: false })).toEqual({
      plan: "plan H1P2R2 has refiner (R) steps but no refiner model was given: give one, or use a plan without R",
    });
    expect(problems({ method: "euler", compile: "block" })).toEqual({
      compile: `compile "block" runs FlowTurbo plans and Heun, not 'euler': use "model" (or "none")`,
    });
    // dopri5 and the SDE need no steps
    expect(problems({ method: "dopri5", steps: "" })).toEqual({});
    expect(problems({ method: "sde", steps: "" })).toEqual({});
  });

  test("values no menu offers (from the URL) are named with the menu's choices", () => {
    expect(problems({ method: "bogus" })).toEqual({
      method: `method must be plan, euler, midpoint, heun, rk4, rk4_38, dopri5 or sde, got 'bogus'`,
    });
    expect(problems({ compile: "bogus" })).toEqual({
      compile: "compile must be auto, none, model or block, got 'bogus'",
    });
    expect(problems({ cls: "99" })).toEqual({ class: "class 99 is not a class of this model (0..8)" });
    expect(problems({ cls: "Dragons" }).class).toMatch(
      /'Dragons' is not a class of this model: choose one of 0..8 \(Smileys/,
    );
  });

  test("the menus are the pipeline's: every baseline solver and every compile level", () => {
    expect(METHOD_CHOICES).toEqual(["plan", ...BASELINE_SOLVERS]);
    expect(COMPILE_CHOICES).toEqual(["auto", ...COMPILE_LEVELS]);
  });
});

describe("parseQuery", () => {
  test("settings go to their fields as given; unknown keys, bad flags and bad URLs are reported", () => {
    const q = parseQuery(
      "?backend=bogus&class=99&method=heun&steps=4&n=2&preview=maybe&colour=red&base=not a url at all",
    );
    expect(q.values).toEqual({ method: "heun", steps: "4", count: "2" });
    expect(q.cls).toBe("99");
    expect(q.backend).toBe("bogus");
    expect(Object.fromEntries(q.problems.map((p) => [p.field, p.message]))).toEqual({
      page: expect.stringMatching(/^\?colour= is not a setting of this page/),
      backend: "backend must be auto, webgpu or wasm, got 'bogus'",
      preview: "?preview= must be 1 or 0, got 'maybe'",
      "base-url": expect.stringMatching(/^'not a url at all' is not a URL \(it has spaces\)/),
    });
    expect(parseQuery("?preview=0").values.preview).toBe(false);
  });

  test("?ortLog= sets ONNX Runtime's log level; anything else is reported", () => {
    expect(parseQuery("?ortLog=verbose")).toMatchObject({ ortLog: "verbose", problems: [] });
    const bad = parseQuery("?ortLog=loud");
    expect(bad.ortLog).toBeUndefined();
    expect(bad.problems).toEqual([
      { field: "page", message: "?ortLog= must be verbose, info, warning, error, fatal, got 'loud'" },
    ]);
  });

  test("model URLs: absolute http(s) or a path on this site", () => {
    expect(
      urlProblems({ base: "https://example.org/sit.safetensors", refiner: "/models/r.safetensors" }),
    ).toEqual([]);
    expect(urlProblems({ base: "" })).toEqual([{ field: "base-url", message: "enter the base model's URL" }]);
    expect(urlProblems({ base: "ftp://example.org/x.pt" })[0].message).toMatch(/is a ftp: address/);
  });

  test("?class= takes a number or a class name", () => {
    expect(resolveClass("animals", MODEL)).toBe("2");
    expect(resolveClass("7", MODEL)).toBe("7");
    expect(resolveClass("Dragons", MODEL)).toBe("Dragons");
  });
});
