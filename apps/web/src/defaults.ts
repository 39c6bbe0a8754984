// The page's default settings: what a new visitor's first Generate makes. The gallery script
// (scripts/gallery.ts) renders public/gallery.png from the same values, so the gallery shows what the
// default settings give.
import { PLAN_PRESETS } from "@flowturbo/pipeline";

export const DEFAULTS = Object.freeze({
  /** "random": image i gets the class `flowturbo sample` gives sample i without --class. */
  cls: "random",
  method: "plan",
  plan: PLAN_PRESETS.fast,
  /** Steps of a baseline solver (shown when one is chosen). */
  steps: 8,
  seed: 0,
  count: 9,
  /** Empty: the pipeline's default (all images in one batch, up to 16). */
  batch: "",
  compile: "auto",
  preview: true,
  backend: "auto",
});
