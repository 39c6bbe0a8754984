/**
 * Time grids in the flow convention t in [0, 1] (t=0 noise, t=1 data). A grid of n+1 points
 * gives n steps.
 */

/** `count` evenly spaced points from t0 to t1 inclusive, like torch.linspace (count >= 2). */
export function linspace(t0: number, t1: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 2) throw new RangeError(`linspace needs count >= 2, got ${count}`);
  const out: number[] = [];
  const step = (t1 - t0) / (count - 1);
  // Same split as torch.linspace: from the start for the first half, from the end for the rest.
  const half = Math.floor(count / 2);
  for (let i = 0; i < count; i++) out.push(i < half ? t0 + step * i : t1 - step * (count - 1 - i));
  return out;
}

/** SiT's ODE grid: `linspace(t0, t1, numSteps)`, i.e. numSteps points and numSteps-1 steps. */
export function sitGrid(numSteps: number, t0 = 0, t1 = 1): number[] {
  return linspace(t0, t1, numSteps);
}

/** FlowTurbo's grid: N intervals on [0, 1], t_k = k/N for k = 0..N. */
export function uniformGrid(intervals: number): number[] {
  if (!Number.isInteger(intervals) || intervals < 1) {
    throw new RangeError(`uniformGrid needs at least 1 interval, got ${intervals}`);
  }
  const out: number[] = [];
  for (let k = 0; k <= intervals; k++) out.push(k / intervals);
  return out;
}

/**
 * diffusers' timestep shift applied to a flow time: with sigma = 1 - t,
 * sigma' = shift*sigma / (1 + (shift-1)*sigma), returns 1 - sigma'. shift > 1 spends more
 * steps near the noise end (t near 0). shift = 1 is the identity.
 */
export function shiftTime(t: number, shift: number): number {
  if (!(shift > 0)) throw new RangeError(`shift must be positive, got ${shift}`);
  const sigma = 1 - t;
  return 1 - (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** `shiftTime` applied to every point of a grid (endpoints 0 and 1 stay fixed). */
export function shiftedGrid(grid: readonly number[], shift: number): number[] {
  return grid.map((t) => shiftTime(t, shift));
}

/** A diffusers sigma schedule (1 -> 0, noise -> data) as flow times t = 1 - sigma. */
export function gridFromSigmas(sigmas: readonly number[]): number[] {
  return sigmas.map((s) => 1 - s);
}

/** Throws unless the grid has >= 2 finite points, strictly monotone. */
export function checkGrid(grid: readonly number[]): void {
  if (grid.length < 2) throw new RangeError(`a time grid needs at least 2 points, got ${grid.length}`);
  const dir = Math.sign(grid[1] - grid[0]);
  for (let i = 0; i < grid.length; i++) {
    if (!Number.isFinite(grid[i])) throw new RangeError(`time grid point ${i} is not finite: ${grid[i]}`);
    if (i > 0 && (dir === 0 || Math.sign(grid[i] - grid[i - 1]) !== dir)) {
      throw new RangeError(`time grid must be strictly monotone (points ${i - 1} and ${i})`);
    }
  }
}
