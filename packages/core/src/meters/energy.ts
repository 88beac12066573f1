/**
 * Energy of a phase from boundary reads and the timeline (DESIGN §5, §6). Pure functions.
 *
 * Times are ms since the run origin; a sample's time is the midpoint of its read. Energies in J,
 * powers in W, so ∫P dt over ms is divided by 1000.
 */
import type {Boundary, MeterRead, TimelineSample} from '../measure/types.js';
import type {ChannelInfo} from './types.js';

export interface ChannelEnergy {
  meter: string;
  channel: string;
  /** Null when it could not be measured (see `reason`); never 0 in place of unknown. */
  energyJ: number | null;
  /** Half-width-like bound from the edges: Σ over both edges of (read time + update period) × power. */
  uncertaintyJ: number | null;
  estimated: boolean;
  /** `counter`: end − start of a cumulative counter; `integrated`: trapezoid over power samples. */
  method: 'counter' | 'integrated';
  /** Present when the reads exist but contradict a counter (it went backwards: a reset): why. */
  invalid?: string;
  /** Why `energyJ` is null, whenever it is (an invalid counter included). */
  reason?: string;
  partOf?: string;
}

export interface EnergyTotal {
  /** Σ of channels that are not part of another channel; null if any of them is null. */
  energyJ: number | null;
  uncertaintyJ: number | null;
  /** True if any part of the total is estimated. */
  estimated: boolean;
  reason?: string;
}

/**
 * The phase's energy: the totals' fields at the top level (what most callers want), and again
 * under `totals` beside the per-meter totals.
 */
export interface PhaseEnergy extends EnergyTotal {
  fromMs: number;
  toMs: number;
  channels: ChannelEnergy[];
  totals: EnergyTotal;
  byMeter: Record<string, EnergyTotal>;
}

const midMs = (read: MeterRead): number => (read.readStartMs + read.readEndMs) / 2;
const readDurationMs = (read: MeterRead): number => Math.max(0, read.readEndMs - read.readStartMs);
const key = (meter: string, channel: string): string => `${meter}\u0000${channel}`;

function findRead(boundary: Boundary, info: ChannelInfo): MeterRead | undefined {
  return boundary.reads.find((r) => r.meter === info.meter && r.channel === info.channel);
}

/**
 * Power at an edge: the mean of the nearest timeline samples on either side that carry power;
 * else the boundary read's own power (a counter's mean since its previous read); else `fallbackW`
 * (the phase's mean power, from the two boundaries).
 */
export function edgePowerW(samples: TimelineSample[], atMs: number, read: MeterRead | undefined, fallbackW: number | null): number | null {
  let before: TimelineSample | undefined;
  let after: TimelineSample | undefined;
  for (const s of samples) {
    if (s.read.powerW === null) continue;
    const t = midMs(s.read);
    if (t <= atMs && (before === undefined || t > midMs(before.read))) before = s;
    if (t >= atMs && (after === undefined || t < midMs(after.read))) after = s;
  }
  const near = [before, after].filter((s): s is TimelineSample => s !== undefined).map((s) => s.read.powerW as number);
  if (near.length > 0) return near.reduce((a, b) => a + b, 0) / near.length;
  if (read?.powerW !== null && read?.powerW !== undefined) return read.powerW;
  return fallbackW;
}

/**
 * Energy of every channel between two boundaries, and totals that count each joule once.
 *
 * Counter channels: end − start. A negative difference means the counter was reset in between:
 * the channel is `invalid`, its energy null. Power channels: the trapezoid of the timeline
 * samples (and the boundary reads' own power) over the window. `samples` may be omitted for
 * counter-only sets; edge power then comes from the boundaries.
 */
export function phaseEnergy(start: Boundary, end: Boundary, channels: ChannelInfo[], samples: TimelineSample[] = []): PhaseEnergy {
  const byChannel = new Map<string, TimelineSample[]>();
  for (const s of samples) {
    const k = key(s.read.meter, s.read.channel);
    let list = byChannel.get(k);
    if (!list) byChannel.set(k, (list = []));
    list.push(s);
  }
  const results = channels.map((info): ChannelEnergy => {
    const base = {
      meter: info.meter,
      channel: info.channel,
      estimated: info.estimated,
      method: info.kind === 'counter' ? ('counter' as const) : ('integrated' as const),
      ...(info.partOf === undefined ? {} : {partOf: info.partOf}),
    };
    const unknown = (reason: string, invalid = false): ChannelEnergy => ({...base, energyJ: null, uncertaintyJ: null, reason, ...(invalid ? {invalid: reason} : {})});
    const a = findRead(start, info);
    const b = findRead(end, info);
    const own = byChannel.get(key(info.meter, info.channel)) ?? [];
    const ta = a ? midMs(a) : start.atMs;
    const tb = b ? midMs(b) : end.atMs;
    if (tb < ta) return unknown(`end boundary "${end.label}" precedes start "${start.label}"`);

    let energyJ: number;
    if (info.kind === 'counter') {
      if (!a || a.energyJ === null || !b || b.energyJ === null) return unknown(`no counter read at ${!a || a.energyJ === null ? start.label : end.label}`);
      energyJ = b.energyJ - a.energyJ;
      if (energyJ < 0) return unknown(`counter reset: ${info.channel} went from ${a.energyJ} J to ${b.energyJ} J`, true);
    } else {
      const points = [...own];
      if (a?.powerW != null) points.push({scheduledMs: ta, read: a});
      if (b?.powerW != null) points.push({scheduledMs: tb, read: b});
      const integrated = integratePower(points, ta, tb);
      if (integrated === null) return unknown('no power samples in the window');
      energyJ = integrated;
    }
    const meanW = tb > ta ? energyJ / ((tb - ta) / 1000) : null;
    const pa = edgePowerW(own, ta, a, meanW);
    const pb = edgePowerW(own, tb, b, meanW);
    const edge = (read: MeterRead | undefined, powerW: number | null): number | null =>
      powerW === null ? null : ((read ? readDurationMs(read) : 0) + info.updatePeriodMs) / 1000 * powerW;
    const ua = edge(a, pa);
    const ub = edge(b, pb);
    return {...base, energyJ, uncertaintyJ: ua === null || ub === null ? null : ua + ub};
  });

  const total = (list: ChannelEnergy[]): EnergyTotal => {
    // Sub-zones are inside their parent: adding them would count their joules twice.
    const top = list.filter((c) => c.partOf === undefined);
    const estimated = top.some((c) => c.estimated);
    const missing = top.filter((c) => c.energyJ === null);
    if (top.length === 0) return {energyJ: null, uncertaintyJ: null, estimated, reason: 'no channels'};
    if (missing.length > 0) {
      return {energyJ: null, uncertaintyJ: null, estimated, reason: missing.map((c) => `${c.meter}/${c.channel}: ${c.reason ?? 'unknown'}`).join('; ')};
    }
    const energyJ = top.reduce((s, c) => s + (c.energyJ as number), 0);
    const uncertain = top.some((c) => c.uncertaintyJ === null);
    return {energyJ, uncertaintyJ: uncertain ? null : top.reduce((s, c) => s + (c.uncertaintyJ as number), 0), estimated};
  };
  const byMeter: Record<string, EnergyTotal> = {};
  for (const meter of new Set(results.map((c) => c.meter))) byMeter[meter] = total(results.filter((c) => c.meter === meter));
  const totals = total(results);
  return {...totals, fromMs: start.atMs, toMs: end.atMs, channels: results, totals, byMeter};
}

interface Point {
  t: number;
  p: number;
}

function powerPoints(samples: TimelineSample[], channel?: {meter: string; channel: string}): Point[] {
  let list = samples.filter((s) => s.read.powerW !== null && Number.isFinite(s.read.powerW));
  if (channel) list = list.filter((s) => s.read.meter === channel.meter && s.read.channel === channel.channel);
  else if (new Set(list.map((s) => key(s.read.meter, s.read.channel))).size > 1) {
    throw new RangeError('integratePower: samples of several channels; pass the channel to use');
  }
  return list.map((s) => ({t: midMs(s.read), p: s.read.powerW as number})).sort((x, y) => x.t - y.t);
}

/** The piecewise-linear power through the points, held constant before the first and after the last. */
function powerAt(points: Point[], t: number): number {
  const first = points[0] as Point;
  const last = points[points.length - 1] as Point;
  if (t <= first.t) return first.p;
  if (t >= last.t) return last.p;
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((points[mid] as Point).t <= t) lo = mid;
    else hi = mid;
  }
  const a = points[lo] as Point;
  const b = points[hi] as Point;
  return b.t === a.t ? b.p : a.p + ((b.p - a.p) * (t - a.t)) / (b.t - a.t);
}

/**
 * ∫P dt over [fromMs, toMs] in joules: trapezoids over uneven intervals, the power linearly
 * interpolated at the window's edges (held constant outside the samples). Exactly additive:
 * integrate(a, b) + integrate(b, c) = integrate(a, c). Null when no sample carries power.
 * With `channel`, only that channel's samples count; without it the samples must be of one channel.
 */
export function integratePower(samples: TimelineSample[], fromMs: number, toMs: number, channel?: {meter: string; channel: string}): number | null {
  if (!(toMs >= fromMs)) throw new RangeError(`integratePower: window [${fromMs}, ${toMs}] is reversed`);
  const points = powerPoints(samples, channel);
  if (points.length === 0) return null;
  const ts = [fromMs, ...points.map((p) => p.t).filter((t) => t > fromMs && t < toMs), toMs];
  let sumWms = 0;
  let prevT = ts[0] as number;
  let prevP = powerAt(points, prevT);
  for (let i = 1; i < ts.length; i++) {
    const t = ts[i] as number;
    const p = powerAt(points, t);
    sumWms += ((t - prevT) * (prevP + p)) / 2;
    prevT = t;
    prevP = p;
  }
  return sumWms / 1000;
}

export interface PowerStats {
  /** Samples inside the window. */
  n: number;
  meanW: number;
  /** Sample standard deviation (n − 1); 0 for one sample. */
  stdW: number;
  peakW: number;
}

/**
 * Mean, standard deviation and peak of one channel's sampled power over [fromMs, toMs] (a sample
 * counts when its read midpoint lies inside), e.g. idle power and its spread, or peak power.
 * Samples are on an absolute schedule, hence evenly spaced, so the plain mean is the time mean.
 * Null when no sample with power falls inside.
 */
export function powerStats(samples: TimelineSample[], fromMs: number, toMs: number, channel: {meter: string; channel: string}): PowerStats | null {
  const ps = powerPoints(samples, channel)
    .filter((p) => p.t >= fromMs && p.t <= toMs)
    .map((p) => p.p);
  if (ps.length === 0) return null;
  const meanW = ps.reduce((a, b) => a + b, 0) / ps.length;
  const stdW = ps.length > 1 ? Math.sqrt(ps.reduce((a, p) => a + (p - meanW) ** 2, 0) / (ps.length - 1)) : 0;
  return {n: ps.length, meanW, stdW, peakW: ps.reduce((a, b) => (b > a ? b : a), -Infinity)};
}
