/**
 * Energy of a phase from boundary reads and the timeline (DESIGN §5, §6). Pure functions.
 *
 * Times are ms since the run origin; a sample's time is the midpoint of its read. Energies in J,
 * powers in W, so ∫P dt over ms is divided by 1000.
 */
import type {Boundary, MeterRead, TimelineSample} from '../measure/types.js';
import {digestTimeline, inTimelineOrder, type ChannelRef, type PowerStats, type TimelineDigest} from './timeline-query.js';
import type {ChannelInfo, EnergyScope, LinearPowerModel} from './types.js';

export type {PowerStats} from './timeline-query.js';

export interface ChannelEnergy {
  meter: string;
  channel: string;
  /** What the energy covers: a GPU, a CPU socket (lem included), the server's process group or container. */
  scope: EnergyScope;
  /** Null when it could not be measured (see `reason`); never 0 in place of unknown. */
  energyJ: number | null;
  /** Half-width-like bound from the edges: Σ over both edges of (read time + update period) × power. */
  uncertaintyJ: number | null;
  /**
   * For an estimate from a power model: the energy the model gives with the lowest and the
   * highest published coefficients (its own error, apart from the read-time `uncertaintyJ`).
   */
  modelRangeJ?: EnergyRange | null;
  estimated: boolean;
  /** `counter`: end − start of a cumulative counter; `integrated`: trapezoid over power samples. */
  method: 'counter' | 'integrated';
  /** Present when the reads exist but contradict a counter (it went backwards: a reset): why. */
  invalid?: string;
  /** Why `energyJ` is null, whenever it is (an invalid counter included). */
  reason?: string;
  partOf?: string;
}

export interface EnergyRange {
  lowJ: number;
  highJ: number;
}

export interface EnergyTotal {
  /** Σ of channels that are not part of another channel; null if any of them is null. */
  energyJ: number | null;
  uncertaintyJ: number | null;
  /** True if any part of the total is estimated. */
  estimated: boolean;
  /** With an estimated part: the total with that part at the low and the high end of its model's range; else absent. */
  modelRangeJ?: EnergyRange | null;
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

function findRead(boundary: Boundary, info: ChannelRef): MeterRead | undefined {
  return boundary.reads.find((r) => r.meter === info.meter && r.channel === info.channel);
}

/** The instants a digest must be asked about to answer every phase and edge of these boundaries: each boundary and each of its reads. */
export function boundaryTimes(boundaries: readonly Boundary[]): number[] {
  return boundaries.flatMap((b) => [b.atMs, ...b.reads.map(midMs)]);
}

/**
 * Power at an edge: the nearest timeline samples' mean (`nearW`, from the digest); else the
 * boundary read's own power (a counter's mean since its previous read); else `fallbackW` (the
 * phase's mean power, from the two boundaries).
 */
export function edgePowerW(nearW: number | null, read: MeterRead | undefined, fallbackW: number | null): number | null {
  if (nearW !== null) return nearW;
  if (read?.powerW !== null && read?.powerW !== undefined) return read.powerW;
  return fallbackW;
}

/**
 * What a linear model's energy over `durationS` would be with its coefficients at the low and
 * high end of their published spread. The model is E = cpus·idle·T + (max − idle)·c with c the
 * CPU-seconds attributed, so c is recovered from E and T, and E is increasing in both
 * coefficients (c ≤ cpus·T): the extremes come from the extreme coefficients.
 */
export function modelRange(energyJ: number, durationS: number, model: LinearPowerModel): EnergyRange {
  const dynamicW = model.maxWPerVcpu - model.idleWPerVcpu;
  const cpuSeconds = dynamicW > 0 ? Math.max(0, energyJ - model.cpus * model.idleWPerVcpu * durationS) / dynamicW : 0;
  const at = (idle: number, max: number) => model.cpus * idle * durationS + (max - idle) * cpuSeconds;
  const [idleLo, idleHi] = model.range.idleWPerVcpu;
  const [maxLo, maxHi] = model.range.maxWPerVcpu;
  return {lowJ: at(idleLo, maxLo), highJ: at(idleHi, maxHi)};
}

/** Sums channels that are not inside another one (sub-zones are in their parent: adding them would count their joules twice). */
export function totalOf(list: readonly ChannelEnergy[]): EnergyTotal {
  const top = list.filter((c) => c.partOf === undefined);
  const estimated = top.some((c) => c.estimated);
  const missing = top.filter((c) => c.energyJ === null);
  if (top.length === 0) return {energyJ: null, uncertaintyJ: null, estimated, reason: 'no channels'};
  if (missing.length > 0) {
    return {energyJ: null, uncertaintyJ: null, estimated, reason: missing.map((c) => `${c.meter}/${c.channel}: ${c.reason ?? 'unknown'}`).join('; ')};
  }
  const energyJ = top.reduce((s, c) => s + (c.energyJ as number), 0);
  const uncertain = top.some((c) => c.uncertaintyJ === null);
  const total: EnergyTotal = {energyJ, uncertaintyJ: uncertain ? null : top.reduce((s, c) => s + (c.uncertaintyJ as number), 0), estimated};
  if (top.some((c) => c.modelRangeJ !== undefined)) {
    // A measured channel is exact within the range: it adds its own value at both ends.
    const unknownRange = top.some((c) => c.modelRangeJ === null);
    total.modelRangeJ = unknownRange
      ? null
      : top.reduce((r, c) => ({lowJ: r.lowJ + (c.modelRangeJ?.lowJ ?? (c.energyJ as number)), highJ: r.highJ + (c.modelRangeJ?.highJ ?? (c.energyJ as number))}), {lowJ: 0, highJ: 0});
  }
  return total;
}

/** A digest that answers a phase's questions, from samples held in memory. */
function digestFor(start: Boundary, end: Boundary, channels: readonly ChannelInfo[], samples: readonly TimelineSample[]): TimelineDigest {
  return digestTimeline(inTimelineOrder(samples), {channels, times: boundaryTimes([start, end]), windows: [], boundaries: [start, end]});
}

/**
 * Energy of every channel between two boundaries, and totals that count each joule once.
 *
 * Counter channels: end − start. A negative difference means the counter was reset in between:
 * the channel is `invalid`, its energy null. Power channels: ∫P dt through the timeline's reads
 * (boundary reads included) between the two boundary reads. `timeline` is a digest asked about
 * these boundaries' times (see {@link boundaryTimes}), or samples held in memory; without it,
 * edge power comes from the boundaries alone.
 */
export function phaseEnergy(start: Boundary, end: Boundary, channels: ChannelInfo[], timeline: TimelineDigest | readonly TimelineSample[] = []): PhaseEnergy {
  const digest = Array.isArray(timeline) ? digestFor(start, end, channels, timeline) : (timeline as TimelineDigest);
  const results = channels.map((info) => channelEnergy(start, end, info, digest));
  const byMeter: Record<string, EnergyTotal> = {};
  for (const meter of new Set(results.map((c) => c.meter))) byMeter[meter] = totalOf(results.filter((c) => c.meter === meter));
  const totals = totalOf(results);
  return {...totals, fromMs: start.atMs, toMs: end.atMs, channels: results, totals, byMeter};
}

function channelEnergy(start: Boundary, end: Boundary, info: ChannelInfo, digest: TimelineDigest): ChannelEnergy {
  const base = {
    meter: info.meter,
    channel: info.channel,
    scope: info.scope,
    estimated: info.estimated,
    method: info.kind === 'counter' ? ('counter' as const) : ('integrated' as const),
    ...(info.partOf === undefined ? {} : {partOf: info.partOf}),
  };
  const unknown = (reason: string, invalid = false): ChannelEnergy => ({
    ...base,
    energyJ: null,
    uncertaintyJ: null,
    ...(info.model ? {modelRangeJ: null} : {}),
    reason,
    ...(invalid ? {invalid: reason} : {}),
  });
  const a = findRead(start, info);
  const b = findRead(end, info);
  const ta = a ? midMs(a) : start.atMs;
  const tb = b ? midMs(b) : end.atMs;
  if (tb < ta) return unknown(`end boundary "${end.label}" precedes start "${start.label}"`);

  let energyJ: number;
  if (info.kind === 'counter') {
    if (!a || a.energyJ === null || !b || b.energyJ === null) return unknown(`no counter read at ${!a || a.energyJ === null ? start.label : end.label}`);
    energyJ = b.energyJ - a.energyJ;
    if (energyJ < 0) return unknown(`counter reset: ${info.channel} went from ${a.energyJ} J to ${b.energyJ} J`, true);
  } else {
    const integrated = digest.integralJ(info, ta, tb);
    if (integrated === null) return unknown('no power samples in the window');
    energyJ = integrated;
  }
  const meanW = tb > ta ? energyJ / ((tb - ta) / 1000) : null;
  const edge = (read: MeterRead | undefined, t: number): number | null => {
    const powerW = edgePowerW(digest.nearPowerW(info, t), read, meanW);
    return powerW === null ? null : (((read ? readDurationMs(read) : 0) + info.updatePeriodMs) / 1000) * powerW;
  };
  const ua = edge(a, ta);
  const ub = edge(b, tb);
  return {
    ...base,
    energyJ,
    uncertaintyJ: ua === null || ub === null ? null : ua + ub,
    ...(info.model ? {modelRangeJ: modelRange(energyJ, (tb - ta) / 1000, info.model)} : {}),
  };
}

/** The one channel of `samples`, or the one asked for; several without a choice is an error. */
function onlyChannel(samples: readonly TimelineSample[], channel: ChannelRef | undefined, what: string): ChannelRef | null {
  if (channel) return channel;
  const keys = new Map(samples.filter((s) => s.read.powerW !== null).map((s) => [`${s.read.meter}\u0000${s.read.channel}`, {meter: s.read.meter, channel: s.read.channel}]));
  if (keys.size > 1) throw new RangeError(`${what}: samples of several channels; pass the channel to use`);
  return [...keys.values()][0] ?? null;
}

/**
 * ∫P dt over [fromMs, toMs] in joules, from samples held in memory (see timeline-query.ts for
 * the curve: piecewise linear through the reads, held constant outside them). Exactly additive.
 * Null when no sample carries power. With `channel`, only that channel's samples count; without
 * it the samples must be of one channel.
 */
export function integratePower(samples: readonly TimelineSample[], fromMs: number, toMs: number, channel?: ChannelRef): number | null {
  if (!(toMs >= fromMs)) throw new RangeError(`integratePower: window [${fromMs}, ${toMs}] is reversed`);
  const ref = onlyChannel(samples, channel, 'integratePower');
  if (!ref) return null;
  return digestTimeline(inTimelineOrder(samples), {channels: [ref], times: [fromMs, toMs], windows: []}).integralJ(ref, fromMs, toMs);
}

/**
 * Mean, standard deviation and peak of one channel's sampled power over the ticks in
 * [fromMs, toMs], from samples held in memory, e.g. idle power and its spread. Samples are on an
 * absolute schedule, hence evenly spaced, so the plain mean is the time mean. Null when no
 * sample with power falls inside.
 */
export function powerStats(samples: readonly TimelineSample[], fromMs: number, toMs: number, channel: ChannelRef): PowerStats | null {
  return digestTimeline(inTimelineOrder(samples), {channels: [channel], times: [], windows: [{fromMs, toMs}]}).window(fromMs, toMs).channel(channel)?.power ?? null;
}
