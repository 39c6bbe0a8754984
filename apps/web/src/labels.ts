// Class labels of a generation: one chosen class for every image, or "random": image i gets the class the
// CLI gives sample i without --class (Philox at (seed, i): labelsForSamples), so the page and
// `flowturbo sample` agree for the same seed. Whether a class is one of the model's is the pipeline's
// rule (checkRequest), not checked here.
import { labelsForSamples } from "@flowturbo/tensor";

export type ClassChoice = number | "random";

export function labelsFor(choice: ClassChoice, n: number, seed: number, numClasses: number): number[] {
  if (choice === "random") return Array.from(labelsForSamples(seed, 0, n, numClasses));
  return new Array<number>(n).fill(choice);
}
