import {describe, expect, it} from 'vitest';
import {realWaitClock, waitForCooldown, type WaitClock} from './cooldown.js';

/** A clock whose sleeps advance it at once (and honour aborts), recording each sleep. */
function fakeClock(onSleep?: (ms: number) => void): WaitClock & {sleeps: number[]} {
  let nowMs = 1_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => nowMs,
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted) return;
      nowMs += ms;
      onSleep?.(ms);
    },
  };
}

/** Temperatures read in order; the last repeats. */
const script = (values: Array<number | null>) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
};

describe('waitForCooldown', () => {
  it('returns once the temperature reaches idle + delta, after k polls', async () => {
    const clock = fakeClock();
    const result = await waitForCooldown({readTemperatureC: script([70, 62, 55, 44, 39]), idleTemperatureC: 40, deltaC: 5, timeoutS: 600, pollMs: 2_000, clock});
    expect(result).toEqual({cooledDown: true, waitedS: 6, startC: 70, endC: 44, targetC: 45, reads: 4});
    expect(clock.sleeps).toEqual([2_000, 2_000, 2_000]);
  });

  it('is done at once when already cool (equal to the target counts), with an async reader', async () => {
    const clock = fakeClock();
    const result = await waitForCooldown({readTemperatureC: async () => 45, idleTemperatureC: 40, deltaC: 5, timeoutS: 60, clock});
    expect(result).toMatchObject({cooledDown: true, waitedS: 0, reads: 1});
    expect(clock.sleeps).toEqual([]);
  });

  it('gives up at the timeout without throwing; the last sleep is cut to the deadline', async () => {
    const clock = fakeClock();
    const result = await waitForCooldown({readTemperatureC: script([80, 79, 78]), idleTemperatureC: 40, deltaC: 3, timeoutS: 5, pollMs: 2_000, clock});
    expect(result).toEqual({cooledDown: false, reason: 'timeout', waitedS: 5, startC: 80, endC: 78, targetC: 43, reads: 4});
    expect(clock.sleeps).toEqual([2_000, 2_000, 1_000]);
  });

  it('returns at once when no temperature can be read (null, NaN or a throw)', async () => {
    for (const read of [() => null, () => Number.NaN, () => Promise.reject(new Error('NVML gone'))]) {
      const clock = fakeClock();
      const result = await waitForCooldown({readTemperatureC: read, idleTemperatureC: 40, deltaC: 5, timeoutS: 600, clock});
      expect(result).toEqual({cooledDown: false, reason: 'no-temperature', waitedS: 0, startC: null, endC: null, targetC: 45, reads: 0});
      expect(clock.sleeps).toEqual([]);
    }
  });

  it('stops when the sensor goes away mid-wait, keeping what it read', async () => {
    const result = await waitForCooldown({readTemperatureC: script([70, 65, null]), idleTemperatureC: 40, deltaC: 5, timeoutS: 600, pollMs: 1_000, clock: fakeClock()});
    expect(result).toMatchObject({cooledDown: false, reason: 'no-temperature', startC: 70, endC: 65, reads: 2, waitedS: 2});
  });

  it('stops when aborted during a sleep', async () => {
    const abort = new AbortController();
    let sleeps = 0;
    const clock = fakeClock(() => {
      if (++sleeps === 2) abort.abort();
    });
    const result = await waitForCooldown({readTemperatureC: () => 90, idleTemperatureC: 40, deltaC: 5, timeoutS: 600, pollMs: 1_000, signal: abort.signal, clock});
    expect(result).toMatchObject({cooledDown: false, reason: 'aborted', reads: 2, waitedS: 2});
  });

  it('does not read at all when the signal is already aborted', async () => {
    let reads = 0;
    const result = await waitForCooldown({readTemperatureC: () => ++reads, idleTemperatureC: 40, deltaC: 5, timeoutS: 600, signal: AbortSignal.abort(), clock: fakeClock()});
    expect(result).toMatchObject({cooledDown: false, reason: 'aborted', reads: 0});
    expect(reads).toBe(0);
  });

  it('the real clock wakes early on abort', async () => {
    const abort = new AbortController();
    const started = performance.now();
    setTimeout(() => abort.abort(), 20);
    await realWaitClock.sleep(30_000, abort.signal);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
