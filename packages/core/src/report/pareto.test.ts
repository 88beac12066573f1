import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {dominates, paretoFrontier, type ParetoPoint} from './pareto.js';

const p = (id: string, x: number, y: number): ParetoPoint => ({id, x, y});
const ids = (points: ParetoPoint[]) => points.map((q) => q.id);

describe('paretoFrontier', () => {
  it('keeps the configurations nothing beats on both throughput (higher) and energy per token (lower), in x order', () => {
    const points = [p('slow-cheap', 100, 1), p('fast-dear', 400, 3), p('dominated', 150, 2), p('middle', 250, 1.5), p('worse-middle', 240, 1.6)];
    expect(ids(paretoFrontier(points, 'higher', 'lower'))).toEqual(['slow-cheap', 'middle', 'fast-dear']);
  });

  it('both objectives lower is better (energy per token against TTFT p90)', () => {
    expect(ids(paretoFrontier([p('a', 10, 5), p('b', 20, 1), p('c', 30, 2), p('d', 5, 9)], 'lower', 'lower'))).toEqual(['d', 'a', 'b']);
  });

  it('equal on one objective: the better on the other dominates; identical points are both kept', () => {
    expect(ids(paretoFrontier([p('a', 10, 5), p('b', 10, 4)], 'higher', 'lower'))).toEqual(['b']);
    expect(ids(paretoFrontier([p('a', 10, 5), p('twin', 10, 5)], 'higher', 'lower'))).toEqual(['a', 'twin']);
  });

  it('leaves out unknown coordinates and an empty input', () => {
    expect(ids(paretoFrontier([p('nan', Number.NaN, 1), p('inf', 5, Infinity), p('ok', 1, 1)], 'higher', 'lower'))).toEqual(['ok']);
    expect(paretoFrontier([], 'higher', 'lower')).toEqual([]);
  });

  it('property: no frontier point is dominated, and every other point is dominated by a frontier point', () => {
    const pts = fc.array(fc.tuple(fc.integer({min: 0, max: 50}), fc.integer({min: 0, max: 50})), {maxLength: 40});
    fc.assert(
      fc.property(pts, (raw) => {
        const points = raw.map(([x, y], i) => p(String(i), x, y));
        const front = paretoFrontier(points, 'higher', 'lower');
        const onFront = new Set(ids(front));
        for (const f of front) expect(points.some((q) => dominates(q, f, 'higher', 'lower'))).toBe(false);
        for (const q of points.filter((q) => !onFront.has(q.id))) expect(front.some((f) => dominates(f, q, 'higher', 'lower'))).toBe(true);
      }),
    );
  });
});
