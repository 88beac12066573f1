/** Summary statistics shared by every figure: one percentile definition for latencies and jitter alike. */

/** Count, mean, extremes and percentiles of a sample (same unit as the values). */
export interface ValueSummary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/**
 * Percentile `q` (0..1) of an ascending array by linear interpolation between the closest order
 * statistics: position h = (n − 1)·q, value x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). This is
 * Hyndman & Fan type 7, the default of NumPy and R and Excel's PERCENTILE.INC. NaN when empty.
 */
export function percentileOfSorted(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo]!;
  return a + (h - lo) * (sorted[hi]! - a);
}

/** Summary of the values (percentiles: {@link percentileOfSorted}); null for an empty sample. */
export function summarize(values: readonly number[]): ValueSummary | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const s = sorted as unknown as readonly number[];
  return {
    n,
    mean: sum / n,
    p50: percentileOfSorted(s, 0.5),
    p90: percentileOfSorted(s, 0.9),
    p95: percentileOfSorted(s, 0.95),
    p99: percentileOfSorted(s, 0.99),
    min: sorted[0]!,
    max: sorted[n - 1]!,
  };
}
