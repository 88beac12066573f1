/**
 * Every figure a run's timeline feeds, answered in ONE pass over its samples, so a long run's
 * timeline is read from timeline.csv as a stream and never held whole in memory (a 3-hour run
 * sampled every 10 ms is ~10⁶ ticks per channel).
 *
 * The questions are asked before the pass: the instants where integrals, counter values and edge
 * powers are wanted (phase boundaries, window edges), and the windows whose tick statistics are
 * wanted (measure, idle, steady state). Memory is O(channels × (instants + windows)), whatever
 * the length of the timeline.
 *
 * Definitions (the same ones energy.ts and metrics.ts documented before they were streamed):
 * - a channel's series are its reads in time order, a read's time being the midpoint of its read;
 *   boundary reads are reads of the same channels and join the series (they bracket the phases
 *   where periodic samples stop short);
 * - power between reads is piecewise linear through them and held constant before the first and
 *   after the last; ∫P dt over [a, b] is exact for that curve, hence additive;
 * - a counter at t is linear between the nearest reads on either side, null when t is not
 *   bracketed; a decrease between consecutive reads is a reset;
 * - edge power at t is the mean of the nearest periodic samples' power on either side (boundary
 *   reads excluded: their power is a mean since the previous read);
 * - window statistics count samples by their scheduled tick time, t0 + k·Δ, inside [from, to].
 */
import {codedError, ExitCode} from '@lem/plugin-kit';
import type {Boundary, MeterRead, TimelineSample} from '../measure/types.js';
import {clockEventReasonNames, THROTTLE_REASON_MASK} from './nvml.js';
import {MeterErrorCodes} from './types.js';

export interface ChannelRef {
  meter: string;
  channel: string;
}

export interface TimelineQuestions {
  /** The channels asked about; samples of other channels are skipped. `partOf` channels are left out of per-tick totals. */
  channels: ReadonlyArray<ChannelRef & {partOf?: string}>;
  /** Instants, ms since t0, where integrals, counters and edge powers are wanted. */
  times: readonly number[];
  /** Windows, ms since t0 (by scheduled tick time), whose statistics are wanted. */
  windows: ReadonlyArray<{fromMs: number; toMs: number}>;
  /** Boundary reads, merged into each channel's series. */
  boundaries?: readonly Boundary[];
}

/** Count, mean, sample standard deviation (n − 1; 0 for one value) and peak. */
export interface PowerStats {
  n: number;
  meanW: number;
  stdW: number;
  peakW: number;
}

/** What one channel did inside a window. */
export interface ChannelWindowStats {
  samples: number;
  power: PowerStats | null;
  /** GPU temperature of the first and last samples that carry one, and the highest. */
  temperatureC: {first: number | null; last: number | null; max: number | null};
  /** Samples during which each throttle reason was active. */
  throttleSamples: Record<string, number>;
  /** Most processes outside the server's group in any sample (0 when none or unknown). */
  foreignProcessesMax: number;
}

export interface WindowStats {
  /** Distinct ticks inside the window. */
  ticks: number;
  /** Per tick, the sum of power over the channels totals add (no `partOf`), then over ticks. */
  totalPower: PowerStats | null;
  channel(ref: ChannelRef): ChannelWindowStats | null;
}

/** The answers. Asking about an instant or window that was not asked before the pass is an error. */
export interface TimelineDigest {
  /** ∫P dt over [fromMs, toMs] in joules; null when the channel has no power anywhere. */
  integralJ(ref: ChannelRef, fromMs: number, toMs: number): number | null;
  /** The counter at t, J; null when no read with energy brackets t. */
  counterAtJ(ref: ChannelRef, tMs: number): number | null;
  /** Mean power of the nearest periodic samples on either side of t; null without any. */
  nearPowerW(ref: ChannelRef, tMs: number): number | null;
  /** True when the counter goes backwards anywhere from the read before `fromMs` to the read after `toMs`. */
  counterDecreases(ref: ChannelRef, fromMs: number, toMs: number): boolean;
  window(fromMs: number, toMs: number): WindowStats;
}

const keyOf = (ref: ChannelRef): string => `${ref.meter}\u0000${ref.channel}`;
const midMs = (read: MeterRead): number => (read.readStartMs + read.readEndMs) / 2;

interface Point {
  t: number;
  v: number;
  /** ∫ of the series from its first point to t (trapezoids), in value × ms. */
  cum: number;
}

/**
 * A series evaluated at sorted instants while its points stream by in time order: for each
 * instant q it keeps the last point at or before q and the first at or after q, and the running
 * trapezoid integral at those points.
 */
class SeriesAt {
  private next = 0;
  private last: Point | null = null;
  readonly before: Array<Point | null>;
  readonly after: Array<Point | null>;

  constructor(private readonly times: readonly number[]) {
    this.before = new Array<Point | null>(times.length).fill(null);
    this.after = new Array<Point | null>(times.length).fill(null);
  }

  push(t: number, v: number): void {
    const last = this.last;
    if (last !== null && t < last.t) throw outOfOrder(t, last.t);
    const point = {t, v, cum: last === null ? 0 : last.cum + ((t - last.t) * (last.v + v)) / 2};
    // Instants not yet closed lie after every earlier point: this one is their first after.
    while (this.next < this.times.length && (this.times[this.next] as number) <= t) {
      this.before[this.next] = this.times[this.next] === t ? point : last;
      this.after[this.next] = point;
      this.next++;
    }
    this.last = point;
  }

  finish(): void {
    for (; this.next < this.times.length; this.next++) this.before[this.next] = this.last;
  }

  /** Linear interpolation at instant i; null unless points lie on both sides. */
  valueAt(i: number): number | null {
    const a = this.before[i];
    const b = this.after[i];
    if (!a || !b) return null;
    if (b.t === a.t) return a.v;
    return a.v + ((b.v - a.v) * ((this.times[i] as number) - a.t)) / (b.t - a.t);
  }

  /** ∫ from the first point to instant i (negative before it), value held constant outside the points; null without points. */
  integralAt(i: number): number | null {
    const q = this.times[i] as number;
    const a = this.before[i];
    const b = this.after[i];
    if (a && b) return b.t === a.t ? a.cum : a.cum + ((q - a.t) * (a.v + (this.valueAt(i) as number))) / 2;
    if (a) return a.cum + a.v * (q - a.t);
    if (b) return -b.v * (b.t - q);
    return null;
  }

  /** The mean of the points on either side of instant i that exist. */
  nearMeanAt(i: number): number | null {
    const near = [this.before[i], this.after[i]].filter((p): p is Point => p !== null);
    return near.length === 0 ? null : near.reduce((s, p) => s + p.v, 0) / near.length;
  }
}

function outOfOrder(t: number, lastT: number) {
  return codedError({
    code: MeterErrorCodes.timelineCsv,
    message: `timeline.csv is not in time order: a read at ${t} ms follows one at ${lastT} ms of the same channel`,
    try: ['The file was edited; re-run the experiment to get a fresh timeline.'],
    exitCode: ExitCode.usage,
  });
}

/** Welford's running mean and variance, and the peak. */
class Running {
  n = 0;
  private mean = 0;
  private m2 = 0;
  private peak = -Infinity;

  push(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    if (x > this.peak) this.peak = x;
  }

  stats(): PowerStats | null {
    if (this.n === 0) return null;
    return {n: this.n, meanW: this.mean, stdW: this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : 0, peakW: this.peak};
  }
}

class ChannelWindow {
  samples = 0;
  readonly power = new Running();
  first: number | null = null;
  last: number | null = null;
  max: number | null = null;
  readonly throttle: Record<string, number> = {};
  foreign = 0;

  push(read: MeterRead): void {
    this.samples++;
    if (read.powerW !== null && Number.isFinite(read.powerW)) this.power.push(read.powerW);
    if (typeof read.temperatureC === 'number') {
      this.first ??= read.temperatureC;
      this.last = read.temperatureC;
      this.max = this.max === null ? read.temperatureC : Math.max(this.max, read.temperatureC);
    }
    if (typeof read.clockEventReasons === 'number') {
      for (const name of clockEventReasonNames(read.clockEventReasons & THROTTLE_REASON_MASK)) this.throttle[name] = (this.throttle[name] ?? 0) + 1;
    }
    if (typeof read.foreignProcesses === 'number' && read.foreignProcesses > this.foreign) this.foreign = read.foreignProcesses;
  }

  stats(): ChannelWindowStats {
    return {samples: this.samples, power: this.power.stats(), temperatureC: {first: this.first, last: this.last, max: this.max}, throttleSamples: this.throttle, foreignProcessesMax: this.foreign};
  }
}

class WindowState {
  ticks = 0;
  readonly total = new Running();
  readonly channels = new Map<string, ChannelWindow>();
  constructor(
    readonly fromMs: number,
    readonly toMs: number,
  ) {}
  holds(scheduledMs: number): boolean {
    return scheduledMs >= this.fromMs && scheduledMs <= this.toMs;
  }
}

class ChannelSeries {
  readonly power: SeriesAt;
  readonly energy: SeriesAt;
  readonly samplePower: SeriesAt;
  /** Consecutive reads (t of the earlier, t of the later) where the counter went down. */
  readonly decreases: Array<[number, number]> = [];
  private lastEnergy: {t: number; e: number} | null = null;
  /** Boundary reads of this channel in time order, merged in as the samples pass them. */
  private pending: MeterRead[];

  constructor(times: readonly number[], boundaryReads: MeterRead[]) {
    this.power = new SeriesAt(times);
    this.energy = new SeriesAt(times);
    this.samplePower = new SeriesAt(times);
    this.pending = boundaryReads.sort((a, b) => midMs(a) - midMs(b));
  }

  private add(read: MeterRead, t: number): void {
    if (read.powerW !== null && Number.isFinite(read.powerW)) this.power.push(t, read.powerW);
    if (read.energyJ !== null) {
      if (this.lastEnergy && read.energyJ < this.lastEnergy.e) this.decreases.push([this.lastEnergy.t, t]);
      this.lastEnergy = {t, e: read.energyJ};
      this.energy.push(t, read.energyJ);
    }
  }

  private flushBoundaries(untilMs: number): void {
    while (this.pending.length > 0 && midMs(this.pending[0]!) <= untilMs) {
      const read = this.pending.shift()!;
      this.add(read, midMs(read));
    }
  }

  push(read: MeterRead): void {
    const t = midMs(read);
    this.flushBoundaries(t);
    this.add(read, t);
    if (read.powerW !== null && Number.isFinite(read.powerW)) this.samplePower.push(t, read.powerW);
  }

  finish(): void {
    this.flushBoundaries(Infinity);
    this.power.finish();
    this.energy.finish();
    this.samplePower.finish();
  }
}

/** Reads the samples once (any iterable: a file read as a stream, or an array) and answers the questions. */
export function digestTimeline(samples: Iterable<TimelineSample>, questions: TimelineQuestions): TimelineDigest {
  const times = [...new Set(questions.times)].sort((a, b) => a - b);
  const timeIndex = new Map(times.map((t, i) => [t, i]));
  const inside = new Set(questions.channels.filter((c) => c.partOf !== undefined).map(keyOf));
  const series = new Map<string, ChannelSeries>();
  for (const c of questions.channels) {
    const reads = (questions.boundaries ?? []).flatMap((b) => b.reads.filter((r) => r.meter === c.meter && r.channel === c.channel));
    series.set(keyOf(c), new ChannelSeries(times, reads));
  }
  const windows = questions.windows.map((w) => new WindowState(w.fromMs, w.toMs));

  // Rows of one tick are contiguous in the timeline: a tick's total is complete when the next begins.
  let tick: number | null = null;
  let tickSum = 0;
  let tickHasPower = false;
  const endTick = () => {
    if (tick === null) return;
    for (const w of windows) {
      if (!w.holds(tick)) continue;
      w.ticks++;
      if (tickHasPower) w.total.push(tickSum);
    }
  };
  for (const sample of samples) {
    const key = keyOf(sample.read);
    const s = series.get(key);
    if (!s) continue;
    if (sample.scheduledMs !== tick) {
      endTick();
      tick = sample.scheduledMs;
      tickSum = 0;
      tickHasPower = false;
    }
    s.push(sample.read);
    if (!inside.has(key) && sample.read.powerW !== null && Number.isFinite(sample.read.powerW)) {
      tickSum += sample.read.powerW;
      tickHasPower = true;
    }
    for (const w of windows) {
      if (!w.holds(sample.scheduledMs)) continue;
      let cw = w.channels.get(key);
      if (!cw) w.channels.set(key, (cw = new ChannelWindow()));
      cw.push(sample.read);
    }
  }
  endTick();
  for (const s of series.values()) s.finish();

  const at = (t: number): number => {
    const i = timeIndex.get(t);
    if (i === undefined) throw new RangeError(`timeline digest: the instant ${t} ms was not asked for before the pass`);
    return i;
  };
  const seriesOf = (ref: ChannelRef): ChannelSeries | undefined => series.get(keyOf(ref));
  return {
    integralJ(ref, fromMs, toMs) {
      if (!(toMs >= fromMs)) throw new RangeError(`integral over [${fromMs}, ${toMs}]: the window is reversed`);
      const s = seriesOf(ref);
      const a = s?.power.integralAt(at(fromMs));
      const b = s?.power.integralAt(at(toMs));
      return a === null || a === undefined || b === null || b === undefined ? null : (b - a) / 1000;
    },
    counterAtJ: (ref, tMs) => seriesOf(ref)?.energy.valueAt(at(tMs)) ?? null,
    nearPowerW: (ref, tMs) => seriesOf(ref)?.samplePower.nearMeanAt(at(tMs)) ?? null,
    counterDecreases: (ref, fromMs, toMs) => (seriesOf(ref)?.decreases ?? []).some(([before, after]) => after >= fromMs && before <= toMs),
    window(fromMs, toMs) {
      const w = windows.find((x) => x.fromMs === fromMs && x.toMs === toMs);
      if (!w) throw new RangeError(`timeline digest: the window [${fromMs}, ${toMs}] was not asked for before the pass`);
      return {
        ticks: w.ticks,
        totalPower: w.total.stats(),
        channel: (ref) => w.channels.get(keyOf(ref))?.stats() ?? null,
      };
    },
  };
}

/**
 * The samples of an array in timeline order (by tick, then read time), for callers that hold a
 * timeline in memory (tests, short runs): the digest needs each tick's rows together.
 */
export function inTimelineOrder(samples: readonly TimelineSample[]): TimelineSample[] {
  return samples
    .map((s, i) => ({s, i}))
    .sort((a, b) => a.s.scheduledMs - b.s.scheduledMs || midMs(a.s.read) - midMs(b.s.read) || a.i - b.i)
    .map((x) => x.s);
}
