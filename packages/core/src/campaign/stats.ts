/**
 * Statistics across the cycles of a campaign (DESIGN §6, "Across cycles"): for one metric of one
 * configuration, n, mean, sample standard deviation, CV, a 95 % Student-t confidence interval,
 * min and max; for two configurations the mean difference paired by cycle, and for two samples
 * that cannot be paired (two campaigns, two runs) Welch's unequal-variance interval. Pure functions.
 *
 * Cycles are few (3 by default), so the interval uses Student's t, never the normal 1.96, and an
 * undefined figure (a spread of one value) is null, never 0.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** One metric of one configuration across its cycles, in the metric's unit (CV and n excepted). */
export interface CycleStats {
  n: number;
  mean: number;
  /** Sample standard deviation (divisor n − 1); null for n < 2. */
  std: number | null;
  /** Coefficient of variation std / mean (a ratio, not %); null for n < 2 or a mean of 0. */
  cv: number | null;
  /** 95 % Student-t interval mean ± halfWidth; null for n < 2. */
  ciLow: number | null;
  ciHigh: number | null;
  /** t(0.975, n − 1) · std / √n; null for n < 2. */
  halfWidth: number | null;
  min: number;
  max: number;
}

/** B − A paired by cycle: the statistics of the per-cycle differences d_c = B_c − A_c. */
export interface PairedDiff {
  /** Cycles present in both. */
  n: number;
  /** Mean of B_c − A_c: positive when B is higher. */
  meanDiff: number;
  /** Sample standard deviation of the differences; null for n < 2. */
  std: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  halfWidth: number | null;
  /** meanDiff / mean of A over the same cycles × 100; null when that mean is 0. */
  relativePct: number | null;
}

/**
 * Neumaier's compensated sum (Kahan–Babuška): the rounding error of each addition is carried
 * and added back, so summing values of very different magnitude loses no digits.
 */
export function stableSum(values: readonly number[]): number {
  let sum = 0;
  let compensation = 0;
  for (const x of values) {
    const t = sum + x;
    compensation += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + compensation;
}

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom: the factor of a two-sided
 * 95 % interval. From stdlib (never hand-written); t(0.975, 2) = 4.303, t(0.975, 9) = 2.262.
 */
export function tQuantile975(df: number): number {
  if (!(df > 0) || !Number.isFinite(df)) throw new RangeError(`degrees of freedom must be a positive finite number, got ${df}`);
  return tQuantile(0.975, df);
}

/** Sample variance by two passes (mean first, then squared deviations): no cancellation of Σx² − n·mean². */
function sampleStd(values: readonly number[], mean: number): number {
  return Math.sqrt(stableSum(values.map((x) => (x - mean) ** 2)) / (values.length - 1));
}

function extremes(values: readonly number[]): {min: number; max: number} {
  let min = Infinity;
  let max = -Infinity;
  for (const x of values) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return {min, max};
}

/**
 * n, mean, sample std, CV, 95 % Student-t CI, min and max of the values (one per cycle); null
 * for no values. Values must be finite (a RangeError otherwise): the caller leaves out the
 * cycles where the metric is unknown rather than passing NaN.
 */
export function describe(values: readonly number[]): CycleStats | null {
  const n = values.length;
  if (n === 0) return null;
  if (!values.every(Number.isFinite)) throw new RangeError('describe: every value must be a finite number');
  const mean = stableSum(values) / n;
  const {min, max} = extremes(values);
  if (n < 2) return {n, mean, std: null, cv: null, ciLow: null, ciHigh: null, halfWidth: null, min, max};
  const std = sampleStd(values, mean);
  const halfWidth = (tQuantile975(n - 1) * std) / Math.sqrt(n);
  const cv = mean === 0 ? null : std / mean;
  return {n, mean, std, cv, ciLow: mean - halfWidth, ciHigh: mean + halfWidth, halfWidth, min, max};
}

/** The values of the cycles present in both maps, in A's order: B_c and A_c side by side. */
export function commonCycles(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): {a: number[]; b: number[]} {
  const pairs = {a: [] as number[], b: [] as number[]};
  for (const [cycle, valueA] of a) {
    const valueB = b.get(cycle);
    if (valueB === undefined) continue;
    pairs.a.push(valueA);
    pairs.b.push(valueB);
  }
  return pairs;
}

/**
 * The difference B − A paired by cycle: only cycles present in both maps count, so a cycle that
 * failed for one configuration drops out of the pair instead of biasing it. Pairing removes the
 * drift common to both (temperature, time of day) from the interval. Null without a common cycle.
 */
export function pairedDifference(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): PairedDiff | null {
  const pairs = commonCycles(a, b);
  const d = describe(pairs.b.map((valueB, i) => valueB - pairs.a[i]!));
  if (d === null) return null;
  const meanA = stableSum(pairs.a) / pairs.a.length;
  const relativePct = meanA === 0 ? null : (d.mean / meanA) * 100;
  return {n: d.n, meanDiff: d.mean, std: d.std, ciLow: d.ciLow, ciHigh: d.ciHigh, halfWidth: d.halfWidth, relativePct};
}

/** B − A of two independent samples (Welch): means, the standard error and Welch–Satterthwaite df. */
export interface WelchDiff {
  nA: number;
  nB: number;
  meanA: number;
  meanB: number;
  /** mean(B) − mean(A): positive when B is higher. */
  meanDiff: number;
  /** √(s_A²/n_A + s_B²/n_B); null when either side has fewer than 2 values. */
  se: number | null;
  /** Welch–Satterthwaite degrees of freedom; null with `se`, or when both spreads are 0 (0/0). */
  df: number | null;
  /** 95 % interval meanDiff ± t(0.975, df) · se; null with `se`; of width 0 when both spreads are 0. */
  ciLow: number | null;
  ciHigh: number | null;
  halfWidth: number | null;
  /** meanDiff / meanA × 100; null when meanA is 0. */
  relativePct: number | null;
}

/**
 * B − A for two samples that cannot be paired, with Welch's unequal-variance t interval:
 * se² = s_A²/n_A + s_B²/n_B and df = se⁴ / ((s_A²/n_A)²/(n_A − 1) + (s_B²/n_B)²/(n_B − 1))
 * (Welch 1947; Satterthwaite 1946; as R's t.test and SciPy's ttest_ind(equal_var=False)).
 * Null when a side has no value; with fewer than 2 values on either side the spread is unknown,
 * so the interval is null, never a guess.
 */
export function welchDifference(a: readonly number[], b: readonly number[]): WelchDiff | null {
  const sa = describe(a);
  const sb = describe(b);
  if (sa === null || sb === null) return null;
  const meanDiff = sb.mean - sa.mean;
  const relativePct = sa.mean === 0 ? null : (meanDiff / sa.mean) * 100;
  const base = {nA: sa.n, nB: sb.n, meanA: sa.mean, meanB: sb.mean, meanDiff, relativePct};
  if (sa.std === null || sb.std === null) return {...base, se: null, df: null, ciLow: null, ciHigh: null, halfWidth: null};
  const va = sa.std ** 2 / sa.n;
  const vb = sb.std ** 2 / sb.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) return {...base, se, df: null, ciLow: meanDiff, ciHigh: meanDiff, halfWidth: 0};
  const df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1));
  const halfWidth = tQuantile975(df) * se;
  return {...base, se, df, ciLow: meanDiff - halfWidth, ciHigh: meanDiff + halfWidth, halfWidth};
}

/**
 * Whether the interval is narrow enough for adaptive cycles: halfWidth / |mean| × 100 ≤
 * `targetPct`. False while the interval is unknown (n < 2) or the mean is 0 (no relative width).
 */
export function ciWithinTarget(stats: CycleStats | null, targetPct: number): boolean {
  if (stats === null || stats.halfWidth === null || stats.mean === 0) return false;
  return (stats.halfWidth / Math.abs(stats.mean)) * 100 <= targetPct;
}
