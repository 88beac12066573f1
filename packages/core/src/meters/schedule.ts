/**
 * The sampler's absolute schedule: tick k is due at t0 + k·Δ on the shared monotonic clock. Each
 * due time is computed from k, never from the previous tick, so lateness never accumulates into
 * drift. Pure functions, so the arithmetic is tested without threads or sleeping.
 */
import {percentileOfSorted} from '../measure/stats.js';

/** Due time of tick k, ns. */
export function tickDueNs(t0Ns: bigint, k: number, intervalMs: number): bigint {
  return t0Ns + BigInt(Math.round(k * intervalMs * 1e6));
}

/** The latest tick whose due time is ≤ nowNs (−1 before t0). */
export function latestDueTick(t0Ns: bigint, nowNs: bigint, intervalMs: number): number {
  if (nowNs < t0Ns) return -1;
  let k = Math.floor(Number(nowNs - t0Ns) / 1e6 / intervalMs);
  // Correct float rounding at exact multiples.
  while (tickDueNs(t0Ns, k + 1, intervalMs) <= nowNs) k++;
  while (k > 0 && tickDueNs(t0Ns, k, intervalMs) > nowNs) k--;
  return k;
}

/** The first tick of a sampler starting at nowNs: the next due time at or after now (ticks before the start are not missed). */
export function firstTick(t0Ns: bigint, nowNs: bigint, intervalMs: number): number {
  const k = latestDueTick(t0Ns, nowNs, intervalMs);
  if (k < 0) return 0;
  return tickDueNs(t0Ns, k, intervalMs) === nowNs ? k : k + 1;
}

/**
 * Which tick to take now that tick `k` is due (nowNs ≥ its due time). A late tick is still taken
 * (its lateness is jitter) unless a later one is due too: then the ticks in between are skipped and
 * counted as missed, and the latest due one is taken, so the schedule catches up at once.
 */
export function catchUp(t0Ns: bigint, k: number, nowNs: bigint, intervalMs: number): {k: number; missed: number} {
  const latest = latestDueTick(t0Ns, nowNs, intervalMs);
  return latest > k ? {k: latest, missed: latest - k} : {k, missed: 0};
}

export interface JitterStats {
  p50: number;
  p99: number;
  max: number;
}

/** p50, p99 (type 7, as every other percentile in lem) and max of jitter values (ms); null when there were no ticks. */
export function jitterStats(valuesMs: readonly number[]): JitterStats | null {
  if (valuesMs.length === 0) return null;
  const sorted = Float64Array.from(valuesMs).sort() as unknown as readonly number[];
  return {p50: percentileOfSorted(sorted, 0.5), p99: percentileOfSorted(sorted, 0.99), max: sorted[sorted.length - 1] as number};
}
