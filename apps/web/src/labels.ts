// Class labels of a generation: one chosen class for every image, or "mixed": image i gets the class the
// CLI gives sample i without --class, so the page and `flowturbo sample` agree for the same seed.

export type ClassChoice = number | "mixed";

export function labelsFor(choice: ClassChoice, n: number, seed: number, numClasses: number): number[] {
  if (choice === "mixed") return Array.from({ length: n }, (_, i) => (seed + i) % numClasses);
  if (!Number.isInteger(choice) || choice < 0 || choice >= numClasses)
    throw new Error(`class ${choice} is not in 0..${numClasses - 1}`);
  return new Array<number>(n).fill(choice);
}
