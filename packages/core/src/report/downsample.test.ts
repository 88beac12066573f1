import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {cdfPoints, downsampleMinMax, MinMaxBuckets, type SeriesPoint} from './downsample.js';

const series = (values: number[], stepMs = 100): SeriesPoint[] => values.map((value, i) => ({tMs: i * stepMs, value}));

describe('downsampleMinMax', () => {
  it('keeps each bucket’s lowest and highest sample at their own times, in time order', () => {
    // 0..999 ms in 2 buckets of 500 ms: [5, 1, 9, 3, 4] and [2, 8, 8, 0, 6].
    const points = series([5, 1, 9, 3, 4, 2, 8, 8, 0, 6]);
    expect(downsampleMinMax(points, 0, 1000, 2)).toEqual([
      {tMs: 100, value: 1},
      {tMs: 200, value: 9},
      {tMs: 600, value: 8},
      {tMs: 800, value: 0},
    ]);
  });

  it('a one-tick spike survives any bucket count (what LTTB may drop)', () => {
    const values = Array.from({length: 10_000}, (_, i) => (i === 7_321 ? 950 : 100 + (i % 7)));
    for (const buckets of [1, 10, 150]) {
      const kept = downsampleMinMax(series(values, 10), 0, 100_000, buckets);
      expect(kept.length).toBeLessThanOrEqual(2 * buckets);
      expect(kept).toContainEqual({tMs: 73_210, value: 950});
      expect(Math.min(...kept.map((p) => p.value))).toBe(100);
    }
  });

  it('a bucket with one sample keeps it once; empty buckets keep nothing; samples outside the span go to the edge buckets', () => {
    expect(downsampleMinMax([{tMs: 50, value: 3}], 0, 1000, 10)).toEqual([{tMs: 50, value: 3}]);
    expect(downsampleMinMax([{tMs: -20, value: 1}, {tMs: 5000, value: 2}], 0, 1000, 4)).toEqual([{tMs: -20, value: 1}, {tMs: 5000, value: 2}]);
  });

  it('skips non-finite readings instead of drawing them', () => {
    const acc = new MinMaxBuckets(0, 100, 1);
    acc.push(10, Number.NaN);
    acc.push(20, 4);
    acc.push(Number.NaN, 9);
    expect(acc.points()).toEqual([{tMs: 20, value: 4}]);
  });

  it('property: the overall extremes are always kept and time order holds', () => {
    fc.assert(
      fc.property(fc.array(fc.double({min: -1e6, max: 1e6, noNaN: true}), {minLength: 1, maxLength: 500}), fc.integer({min: 1, max: 64}), (values, buckets) => {
        const kept = downsampleMinMax(series(values), 0, values.length * 100, buckets);
        expect(kept.map((p) => p.value)).toContain(Math.min(...values));
        expect(kept.map((p) => p.value)).toContain(Math.max(...values));
        expect(kept.map((p) => p.tMs)).toEqual([...kept.map((p) => p.tMs)].sort((a, b) => a - b));
      }),
    );
  });

  it('refuses fewer than one bucket', () => {
    expect(() => new MinMaxBuckets(0, 1, 0)).toThrow(RangeError);
  });
});

describe('cdfPoints', () => {
  it('a small sample is drawn whole: P(X ≤ x₍ᵢ₎) = (i + 1) / n', () => {
    expect(cdfPoints([30, 10, 20, 40], 100)).toEqual({n: 4, values: [10, 20, 30, 40], p: [0.25, 0.5, 0.75, 1]});
  });

  it('a large sample at evenly spaced ranks, both extremes kept', () => {
    const values = Array.from({length: 1001}, (_, i) => 1000 - i);
    const cdf = cdfPoints(values, 11)!;
    expect(cdf.n).toBe(1001);
    expect(cdf.values).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(cdf.p[0]).toBeCloseTo(1 / 1001, 12);
    expect(cdf.p.at(-1)).toBe(1);
  });

  it('null for an empty sample; non-finite values are not part of it', () => {
    expect(cdfPoints([], 10)).toBeNull();
    expect(cdfPoints([Number.NaN, 2], 10)).toEqual({n: 1, values: [2], p: [1]});
  });
});
