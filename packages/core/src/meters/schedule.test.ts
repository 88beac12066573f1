import {describe, expect, it} from 'vitest';
import {catchUp, firstTick, jitterStats, latestDueTick, tickDueNs} from './schedule.js';

const t0 = 1_000_000_000_000n;
const ms = (x: number) => BigInt(Math.round(x * 1e6));

describe('schedule', () => {
  it('computes each due time from k alone (no accumulated drift)', () => {
    expect(tickDueNs(t0, 0, 100)).toBe(t0);
    expect(tickDueNs(t0, 36_000, 100)).toBe(t0 + ms(3_600_000));
    // 0.1 ms steps would drift if added up in floating point; from k they stay exact.
    expect(tickDueNs(t0, 10_000_000, 0.1)).toBe(t0 + ms(1_000_000));
  });

  it('finds the latest due tick, exact at multiples', () => {
    expect(latestDueTick(t0, t0 - 1n, 100)).toBe(-1);
    expect(latestDueTick(t0, t0, 100)).toBe(0);
    expect(latestDueTick(t0, t0 + ms(299.999), 100)).toBe(2);
    expect(latestDueTick(t0, t0 + ms(300), 100)).toBe(3);
    expect(latestDueTick(t0, t0 + ms(0.3), 0.1)).toBe(3);
  });

  it('starts at the next due time; ticks before the start are not missed', () => {
    expect(firstTick(t0, t0 - ms(50), 100)).toBe(0);
    expect(firstTick(t0, t0 + ms(250), 100)).toBe(3);
    expect(firstTick(t0, t0 + ms(300), 100)).toBe(3);
  });

  it('takes a late tick late, but skips (and counts) ticks a later due tick overtook', () => {
    expect(catchUp(t0, 5, t0 + ms(540), 100)).toEqual({k: 5, missed: 0});
    expect(catchUp(t0, 5, t0 + ms(600), 100)).toEqual({k: 6, missed: 1});
    expect(catchUp(t0, 5, t0 + ms(990), 100)).toEqual({k: 9, missed: 4});
  });

  it('jitter percentiles are type 7, as latency percentiles are; no ticks is null, not zeros', () => {
    // numpy.percentile([1, 2, 3, 4], [50, 99]) = 2.5, 3.97 (a nearest-rank p50 would say 2)
    const j = jitterStats([4, 1, 3, 2])!;
    expect(j.p50).toBe(2.5);
    expect(j.p99).toBeCloseTo(3.97, 12);
    expect(j.max).toBe(4);
    expect(jitterStats([])).toBeNull();
  });
});
