import type { BlockKind, NfeCounts } from "./types";

/** One run of identical blocks in a plan, e.g. P5. */
export interface PlanSegment {
  readonly kind: BlockKind;
  readonly count: number;
}

/** A parsed FlowTurbo plan: blocks in order, one block per grid interval. */
export interface Plan {
  /** Runs as written, zero-count runs dropped. */
  readonly segments: readonly PlanSegment[];
  /** One letter per step. */
  readonly blocks: readonly BlockKind[];
  /** Total blocks of each kind. */
  readonly counts: Readonly<Record<BlockKind, number>>;
  /** Number of steps N (the grid has N+1 points). */
  readonly steps: number;
}

/** Plan counts as in the golden case.json files: H{heun}P{pseudo}R{refine}. */
export interface PlanCounts {
  heun: number;
  pseudo: number;
  refine: number;
}

/** A malformed plan string; `position` is the offending character's index when there is one. */
export class PlanError extends Error {
  readonly position: number | undefined;
  constructor(message: string, position?: number) {
    super(message);
    this.name = "PlanError";
    this.position = position;
  }
}

const NAMES: Record<BlockKind, string> = { H: "Heun", P: "pseudo corrector", R: "refiner" };

/**
 * Parses a plan such as "H2P4R2" (the paper's H{a}P{b}R{c}) or any order of letter+count runs
 * ("P5H7R3", "H1P2H1R2") for ablations. Letters are case-insensitive; zero-count runs such as
 * "P0" are allowed and skipped. Errors: unknown letter, a letter without a count, an R run with no
 * H or P step before it (the refiner needs an incoming velocity), and a plan with zero steps.
 */
export function parsePlan(text: string): Plan {
  const src = text.trim();
  if (src.length === 0) throw new PlanError('empty plan: expected runs like "H2P4R2"');
  const segments: PlanSegment[] = [];
  let i = 0;
  let hasBase = false;
  while (i < src.length) {
    const letter = src[i].toUpperCase();
    if (letter !== "H" && letter !== "P" && letter !== "R") {
      throw new PlanError(
        `unknown block '${src[i]}' at position ${i} in plan "${src}": expected H (Heun), P (pseudo corrector) or R (refiner)`,
        i,
      );
    }
    let j = i + 1;
    while (j < src.length && src[j] >= "0" && src[j] <= "9") j++;
    if (j === i + 1) {
      throw new PlanError(
        `block '${src[i]}' at position ${i} in plan "${src}" needs a step count, e.g. "${letter}2"`,
        i,
      );
    }
    const count = Number.parseInt(src.slice(i + 1, j), 10);
    if (count > 0) {
      if (letter === "R" && !hasBase) {
        throw new PlanError(
          `refiner block at position ${i} in plan "${src}" has no preceding base velocity: put at least one H or P step before R (e.g. "H1R${count}")`,
          i,
        );
      }
      if (letter !== "R") hasBase = true;
      segments.push({ kind: letter, count });
    }
    i = j;
  }
  return planFromSegments(segments, `plan "${src}"`);
}

/** A plan from case.json-style counts: H{heun} P{pseudo} R{refine}. */
export function planFromCounts(counts: PlanCounts): Plan {
  const { heun, pseudo, refine } = counts;
  for (const [name, n] of Object.entries(counts)) {
    if (!Number.isInteger(n) || n < 0)
      throw new PlanError(`plan count ${name} must be a non-negative integer, got ${n}`);
  }
  if (refine > 0 && heun + pseudo === 0) {
    throw new PlanError("a plan with refiner steps needs at least one H or P step before them");
  }
  const segments: PlanSegment[] = [];
  if (heun > 0) segments.push({ kind: "H", count: heun });
  if (pseudo > 0) segments.push({ kind: "P", count: pseudo });
  if (refine > 0) segments.push({ kind: "R", count: refine });
  return planFromSegments(segments, `plan H${heun}P${pseudo}R${refine}`);
}

function planFromSegments(segments: PlanSegment[], what: string): Plan {
  const blocks: BlockKind[] = [];
  const counts: Record<BlockKind, number> = { H: 0, P: 0, R: 0 };
  for (const { kind, count } of segments) {
    for (let k = 0; k < count; k++) blocks.push(kind);
    counts[kind] += count;
  }
  if (blocks.length === 0) throw new PlanError(`${what} has zero steps`);
  return { segments, blocks, counts, steps: blocks.length };
}

/** Canonical text of a plan, e.g. "H1P2R2". */
export function formatPlan(plan: Plan): string {
  return plan.segments.map((s) => `${s.kind}${s.count}`).join("");
}

/** Accepts a plan string, a parsed plan, or case.json-style counts. */
export function toPlan(plan: string | Plan | PlanCounts): Plan {
  if (typeof plan === "string") return parsePlan(plan);
  if ("blocks" in plan) return plan;
  return planFromCounts(plan);
}

/**
 * Network evaluations a plan costs: H = 2 base, P = 1 base (2 when it is the first step, with no
 * cached velocity yet), R = 2 refiner.
 */
export function planNfe(plan: Plan): NfeCounts {
  const nfe = { base: 0, refiner: 0 };
  plan.blocks.forEach((b, k) => {
    if (b === "R") nfe.refiner += 2;
    else nfe.base += b === "P" && k > 0 ? 1 : 2;
  });
  return nfe;
}

/** Human-readable name of a block letter. */
export function blockName(kind: BlockKind): string {
  return NAMES[kind];
}
