/**
 * The optional thermal gap of a campaign (DESIGN §7, notes/measurement.md "Method"): heat raises
 * power, so before the next run lem may wait until the device is back within `deltaC` of its idle
 * temperature. The wait is bounded and never fails a run: it reports what happened.
 */
import {setTimeout as delay} from 'node:timers/promises';

/** Time for waits, injectable so tests never sleep (`now` in milliseconds, any origin). */
export interface WaitClock {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realWaitClock: WaitClock = {
  now: () => performance.now(),
  sleep: async (ms, signal) => {
    try {
      await delay(ms, undefined, {signal});
    } catch {
      // aborted: the caller looks at the signal
    }
  },
};

export interface CooldownOptions {
  /**
   * The temperature to watch, °C (for several GPUs, the hottest). `null` (or a throw) means none
   * is available on this machine.
   */
  readTemperatureC: () => Promise<number | null> | number | null;
  /** The device's idle temperature, °C (e.g. measured at the start of the campaign). */
  idleTemperatureC: number;
  /** Cooled down once the temperature is ≤ idleTemperatureC + deltaC. */
  deltaC: number;
  /** Give up after this long; 0 reads once. */
  timeoutS: number;
  /** Between reads; default 1000. */
  pollMs?: number;
  signal?: AbortSignal;
  clock?: WaitClock;
}

export interface CooldownResult {
  cooledDown: boolean;
  waitedS: number;
  /** First and last temperatures read, °C; null when none could be read. */
  startC: number | null;
  endC: number | null;
  /** idleTemperatureC + deltaC. */
  targetC: number;
  /** How many temperatures were read. */
  reads: number;
  /**
   * Why it did not cool down: `no-temperature` (nothing to read: returned at once, or the sensor
   * went away mid-wait), `timeout`, `aborted` (the signal fired; the caller decides what next).
   */
  reason?: 'no-temperature' | 'timeout' | 'aborted';
}

/** Waits until the temperature is at most idle + delta, the timeout passes, or the signal aborts. Never throws. */
export async function waitForCooldown(options: CooldownOptions): Promise<CooldownResult> {
  const clock = options.clock ?? realWaitClock;
  const pollMs = Math.max(1, options.pollMs ?? 1_000);
  const targetC = options.idleTemperatureC + options.deltaC;
  const started = clock.now();
  const deadline = started + Math.max(0, options.timeoutS) * 1_000;
  let startC: number | null = null;
  let endC: number | null = null;
  let reads = 0;
  const done = (cooledDown: boolean, reason?: CooldownResult['reason']): CooldownResult => ({
    cooledDown,
    waitedS: (clock.now() - started) / 1_000,
    startC,
    endC,
    targetC,
    reads,
    ...(reason ? {reason} : {}),
  });

  for (;;) {
    if (options.signal?.aborted) return done(false, 'aborted');
    const temperatureC = await readSafely(options.readTemperatureC);
    if (temperatureC === null) return done(false, 'no-temperature');
    reads++;
    startC ??= temperatureC;
    endC = temperatureC;
    if (temperatureC <= targetC) return done(true);
    const left = deadline - clock.now();
    if (left <= 0) return done(false, 'timeout');
    await clock.sleep(Math.min(pollMs, left), options.signal);
  }
}

async function readSafely(read: CooldownOptions['readTemperatureC']): Promise<number | null> {
  try {
    const value = await read();
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}
