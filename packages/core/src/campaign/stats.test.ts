import {describe, expect, it} from 'vitest';
import {ciWithinTarget, commonCycles, describe as describeCycles, pairedDifference, stableSum, tQuantile975, welchDifference} from './stats.js';

describe('tQuantile975', () => {
  it('matches published two-sided 95 % t values', () => {
    // Student's t table, 0.975 column: df 2 → 4.303, df 9 → 2.262, df 30 → 2.042.
    expect(tQuantile975(2)).toBeCloseTo(4.303, 3);
    expect(tQuantile975(9)).toBeCloseTo(2.262, 3);
    expect(tQuantile975(30)).toBeCloseTo(2.042, 3);
    expect(tQuantile975(1)).toBeCloseTo(12.706, 3);
  });

  it('tends to the normal 1.96 for many degrees of freedom', () => {
    expect(tQuantile975(1e6)).toBeCloseTo(1.96, 2);
  });

  it('refuses degrees of freedom that are not positive', () => {
    expect(() => tQuantile975(0)).toThrow(RangeError);
    expect(() => tQuantile975(Number.NaN)).toThrow(RangeError);
  });
});

describe('stableSum', () => {
  it('keeps the digits a naive sum loses', () => {
    // Naively (1e16 + 1) rounds to 1e16, and − 1e16 leaves 0.
    expect(stableSum([1e16, 1, -1e16])).toBe(1);
    expect(stableSum([0.1, 0.2, 0.3])).toBe(0.6);
  });
});

describe('describe (across cycles)', () => {
  it('is null for no values', () => {
    expect(describeCycles([])).toBeNull();
  });

  it('gives nulls, not zeros, for the spread of one value', () => {
    expect(describeCycles([5])).toEqual({n: 1, mean: 5, std: null, cv: null, ciLow: null, ciHigh: null, halfWidth: null, min: 5, max: 5});
  });

  it('matches a mean and CI computed by hand', () => {
    // 10, 12, 14: mean 12; deviations −2, 0, 2; Σd² = 8; s² = 8 / 2 = 4; s = 2; CV = 2/12.
    // halfWidth = t(0.975, 2) · s / √3 = 4.302653 · 2 / 1.732051 = 4.968275; CI [7.031725, 16.968275].
    const s = describeCycles([14, 10, 12])!;
    expect(s.n).toBe(3);
    expect(s.mean).toBe(12);
    expect(s.std).toBeCloseTo(2, 12);
    expect(s.cv).toBeCloseTo(1 / 6, 12);
    expect(s.halfWidth).toBeCloseTo(4.968275, 5);
    expect(s.ciLow).toBeCloseTo(7.031725, 5);
    expect(s.ciHigh).toBeCloseTo(16.968275, 5);
    expect([s.min, s.max]).toEqual([10, 14]);
  });

  it('matches a textbook ten-value example', () => {
    // 1..10: mean 5.5, s = √(82.5 / 9) = 3.0276504; halfWidth = 2.2621572 · 3.0276504 / √10 = 2.1658506.
    const s = describeCycles(Array.from({length: 10}, (_, i) => i + 1))!;
    expect(s.mean).toBe(5.5);
    expect(s.std).toBeCloseTo(3.0276504, 6);
    expect(s.halfWidth).toBeCloseTo(2.1658506, 6);
  });

  it('gives a null CV for a mean of 0 and a zero-width interval for equal values', () => {
    expect(describeCycles([-1, 1])!.cv).toBeNull();
    const s = describeCycles([3, 3, 3])!;
    expect([s.std, s.halfWidth, s.ciLow, s.ciHigh]).toEqual([0, 0, 3, 3]);
  });

  it('keeps precision for large values with a small spread', () => {
    // A one-pass Σx² − n·mean² cancels to garbage here; two passes give s = 1 exactly.
    const s = describeCycles([1e9 + 1, 1e9 + 2, 1e9 + 3])!;
    expect(s.mean).toBe(1e9 + 2);
    expect(s.std).toBe(1);
  });

  it('refuses values that are not finite', () => {
    expect(() => describeCycles([1, Number.NaN])).toThrow(RangeError);
  });
});

describe('pairedDifference', () => {
  it('is B − A over the cycles present in both', () => {
    const a = new Map([[1, 10], [2, 11], [3, 12], [4, 100]]);
    const b = new Map([[1, 12], [2, 14], [3, 13], [5, 0]]);
    // Common cycles 1..3: differences 2, 3, 1 → mean 2, s = 1; A over them: mean 11.
    const d = pairedDifference(a, b)!;
    expect(d.n).toBe(3);
    expect(d.meanDiff).toBe(2);
    expect(d.std).toBeCloseTo(1, 12);
    expect(d.halfWidth).toBeCloseTo(tQuantile975(2) / Math.sqrt(3), 12);
    expect(d.ciLow).toBeCloseTo(2 - tQuantile975(2) / Math.sqrt(3), 12);
    expect(d.relativePct).toBeCloseTo((2 / 11) * 100, 12);
  });

  it('is null without a common cycle, and has no interval for one pair', () => {
    expect(pairedDifference(new Map([[1, 1]]), new Map([[2, 1]]))).toBeNull();
    const one = pairedDifference(new Map([[1, 4]]), new Map([[1, 5]]))!;
    expect(one).toEqual({n: 1, meanDiff: 1, std: null, ciLow: null, ciHigh: null, halfWidth: null, relativePct: 25});
  });

  it('has no relative difference when A averages 0', () => {
    expect(pairedDifference(new Map([[1, -1], [2, 1]]), new Map([[1, 0], [2, 2]]))!.relativePct).toBeNull();
  });
});

describe('commonCycles', () => {
  it("keeps the cycles present in both, in A's order", () => {
    expect(commonCycles(new Map([[3, 30], [1, 10], [2, 20]]), new Map([[1, 11], [3, 33]]))).toEqual({a: [30, 10], b: [33, 11]});
  });
});

describe('welchDifference', () => {
  it('matches a difference, standard error and Welch–Satterthwaite df computed by hand', () => {
    // A = 10, 12, 14: mean 12, s² = 4, s²/n = 4/3. B = 20, 21, 25, 26: mean 23, s² = 26/3, s²/n = 13/6.
    // se² = 4/3 + 13/6 = 3.5; df = 3.5² / ((4/3)²/2 + (13/6)²/3) = 12.25 / 2.4537037 = 4.9924528.
    // SciPy 1.17 ttest_ind(b, a, equal_var=False): df 4.99245283018868, CI [6.18869426365172, 15.811305736348281].
    const d = welchDifference([10, 12, 14], [20, 21, 25, 26])!;
    expect([d.nA, d.nB, d.meanA, d.meanB, d.meanDiff]).toEqual([3, 4, 12, 23, 11]);
    expect(d.se).toBeCloseTo(Math.sqrt(3.5), 12);
    expect(d.df).toBeCloseTo(4.99245283018868, 10);
    expect(d.ciLow).toBeCloseTo(6.18869426365172, 9);
    expect(d.ciHigh).toBeCloseTo(15.811305736348281, 9);
    expect(d.halfWidth).toBeCloseTo(tQuantile975(4.99245283018868) * Math.sqrt(3.5), 12);
    expect(d.relativePct).toBeCloseTo((11 / 12) * 100, 12);
  });

  it("matches R's t.test(extra ~ group, data = sleep), Welch's default", () => {
    // R: t = -1.8608, df = 17.776, 95 % CI of group 1 − group 2: -3.3654832 0.2054832 (so B − A = group 2 − group 1 flips it).
    const group1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const group2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    const d = welchDifference(group1, group2)!;
    expect(d.meanDiff).toBeCloseTo(1.58, 12);
    expect(d.df).toBeCloseTo(17.776, 3);
    expect(d.meanDiff / d.se!).toBeCloseTo(1.8608, 4);
    expect(d.ciLow).toBeCloseTo(-0.2054832, 7);
    expect(d.ciHigh).toBeCloseTo(3.3654832, 7);
  });

  it('is antisymmetric: swapping A and B negates the difference and keeps the width', () => {
    const ab = welchDifference([1, 2, 4], [3, 7, 8, 9])!;
    const ba = welchDifference([3, 7, 8, 9], [1, 2, 4])!;
    expect(ba.meanDiff).toBeCloseTo(-ab.meanDiff, 12);
    expect(ba.halfWidth).toBeCloseTo(ab.halfWidth!, 12);
    expect(ba.df).toBeCloseTo(ab.df!, 12);
  });

  it('has no interval, not a made-up one, when a side has one value', () => {
    const d = welchDifference([5], [6, 7, 8])!;
    expect(d.meanDiff).toBe(2);
    expect([d.se, d.df, d.ciLow, d.ciHigh, d.halfWidth]).toEqual([null, null, null, null, null]);
    expect(welchDifference([5, 6], [7])!.halfWidth).toBeNull();
  });

  it('is null for an empty side; a zero-width interval without df when neither side varies', () => {
    expect(welchDifference([], [1, 2])).toBeNull();
    expect(welchDifference([1, 2], [])).toBeNull();
    const d = welchDifference([3, 3], [4, 4, 4])!;
    expect([d.se, d.df, d.halfWidth, d.ciLow, d.ciHigh]).toEqual([0, null, 0, 1, 1]);
  });

  it('has no relative difference when A averages 0', () => {
    expect(welchDifference([-1, 1], [2, 3])!.relativePct).toBeNull();
  });
});

describe('ciWithinTarget', () => {
  it('compares the half width relative to |mean| with the target in %', () => {
    const s = describeCycles([14, 10, 12])!; // halfWidth 4.968 / 12 = 41.4 %
    expect(ciWithinTarget(s, 42)).toBe(true);
    expect(ciWithinTarget(s, 41)).toBe(false);
    const negative = describeCycles([-14, -10, -12])!;
    expect(ciWithinTarget(negative, 42)).toBe(true);
  });

  it('is false while the interval is unknown', () => {
    expect(ciWithinTarget(describeCycles([1]), 100)).toBe(false);
    expect(ciWithinTarget(null, 100)).toBe(false);
    expect(ciWithinTarget(describeCycles([-1, 1]), 100)).toBe(false);
  });
});
