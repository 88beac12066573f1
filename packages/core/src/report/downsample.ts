/**
 * Display downsampling for the report's plots. Pure functions; they change what is drawn, never
 * a number: every figure (energy, power, percentiles) is computed from the full raw files.
 *
 * Timelines: min/max per time bucket. Each bucket keeps its lowest and its highest sample (with
 * their own timestamps), so every spike and every dip of the power trace survives — the peak a
 * reader looks for is the one `peakPowerW` reports. LTTB keeps one point per bucket chosen by
 * triangle area and may drop a one-tick spike; M4 adds each bucket's first and last sample, which
 * only matters when a bucket is wider than a pixel. Min/max is one streaming pass with O(buckets)
 * memory, so a long timeline is never held whole.
 *
 * Distributions: the empirical CDF at evenly spaced ranks, both extremes kept.
 */

/** A point of a drawn series: time in ms since the run's origin, value in the series' unit. */
export interface SeriesPoint {
  tMs: number;
  value: number;
}

interface Bucket {
  min: SeriesPoint;
  max: SeriesPoint;
}

/**
 * Min/max per bucket over [fromMs, toMs] split into `buckets` equal spans, fed one sample at a
 * time in any order; samples outside the span fall into the edge buckets. Non-finite values are
 * skipped (a missing reading is not drawn as 0).
 */
export class MinMaxBuckets {
  private readonly slots: Array<Bucket | undefined>;
  private readonly widthMs: number;

  constructor(
    private readonly fromMs: number,
    toMs: number,
    buckets: number,
  ) {
    if (!(buckets >= 1)) throw new RangeError(`buckets must be at least 1, got ${buckets}`);
    this.slots = new Array<Bucket | undefined>(Math.floor(buckets));
    this.widthMs = Math.max(toMs - fromMs, Number.MIN_VALUE) / this.slots.length;
  }

  push(tMs: number, value: number): void {
    if (!Number.isFinite(tMs) || !Number.isFinite(value)) return;
    const i = Math.min(this.slots.length - 1, Math.max(0, Math.floor((tMs - this.fromMs) / this.widthMs)));
    const slot = this.slots[i];
    const point = {tMs, value};
    if (slot === undefined) this.slots[i] = {min: point, max: point};
    else if (value < slot.min.value) slot.min = point;
    else if (value > slot.max.value) slot.max = point;
  }

  /** The kept points in time order: two per bucket, one where min and max are the same sample. */
  points(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (const slot of this.slots) {
      if (slot === undefined) continue;
      const [a, b] = slot.min.tMs <= slot.max.tMs ? [slot.min, slot.max] : [slot.max, slot.min];
      out.push(a);
      if (b !== a) out.push(b);
    }
    return out;
  }
}

/** {@link MinMaxBuckets} over a whole array: at most 2 × `buckets` points, extremes kept. */
export function downsampleMinMax(points: Iterable<SeriesPoint>, fromMs: number, toMs: number, buckets: number): SeriesPoint[] {
  const acc = new MinMaxBuckets(fromMs, toMs, buckets);
  for (const p of points) acc.push(p.tMs, p.value);
  return acc.points();
}

/** An empirical CDF as drawn: values ascending, `p[i]` the fraction of the sample ≤ `values[i]`. */
export interface CdfPoints {
  /** Size of the whole sample. */
  n: number;
  values: number[];
  p: number[];
}

/**
 * The empirical CDF of `values` (any order; non-finite ones dropped) at no more than `maxPoints`
 * ranks, evenly spaced, the smallest and largest always among them: P(X ≤ x₍ᵢ₎) = (i + 1) / n.
 * Null for an empty sample.
 */
export function cdfPoints(values: readonly number[], maxPoints: number): CdfPoints | null {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return null;
  const k = Math.max(2, Math.floor(maxPoints));
  const ranks = n <= k ? sorted.map((_, i) => i) : Array.from({length: k}, (_, j) => Math.round((j * (n - 1)) / (k - 1)));
  return {n, values: ranks.map((i) => sorted[i]!), p: ranks.map((i) => (i + 1) / n)};
}
