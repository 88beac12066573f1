/**
 * The Pareto frontier of two objectives (e.g. energy per output token, lower is better, against
 * output tokens/s, higher is better). Pure.
 */

export type Direction = 'lower' | 'higher';

export interface ParetoPoint {
  id: string;
  x: number;
  y: number;
}

/** `a` is at least as good as `b` on one objective, in that objective's direction. */
const atLeast = (a: number, b: number, better: Direction): boolean => (better === 'lower' ? a <= b : a >= b);

/** `a` dominates `b`: at least as good on both objectives and not equal on both. */
export function dominates(a: ParetoPoint, b: ParetoPoint, x: Direction, y: Direction): boolean {
  return atLeast(a.x, b.x, x) && atLeast(a.y, b.y, y) && (a.x !== b.x || a.y !== b.y);
}

/**
 * The points no other point dominates, ordered by x ascending (then y), so that joining them
 * draws the frontier. Identical points are all kept (neither dominates the other). Non-finite
 * coordinates are left out: an unknown figure is not a position. O(n²), for the tens to
 * hundreds of configurations a report holds.
 */
export function paretoFrontier(points: readonly ParetoPoint[], x: Direction, y: Direction): ParetoPoint[] {
  const known = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  return known.filter((p) => !known.some((q) => dominates(q, p, x, y))).sort((a, b) => a.x - b.x || a.y - b.y);
}
