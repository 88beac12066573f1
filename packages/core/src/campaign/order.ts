/**
 * The run sequence of a campaign (DESIGN §7): which configuration runs in which cycle, in what
 * order, and the gap before each run. Pure and deterministic: the same configurations, cycles,
 * order and seed always give the same sequence, so a resumed campaign replays its plan.
 *
 * The orders exist to keep slow drift (warming hardware, a neighbour's load, time of day) from
 * landing on one configuration: `interleaved` spreads it evenly, `reverse` cancels a linear
 * drift, `shuffled` randomises it, `latin_square` balances which configuration precedes which
 * (carry-over of heat), and `grouped` is for when switching configurations is what costs most.
 */
import {splitmix32} from '../workload/schedule.js';
import type {OrderKind, PlannedRun} from './types.js';

/** One run of the sequence. `cycle` is 1-based. */
export interface SequencedRun {
  configuration: string;
  cycle: number;
}

export interface RunGap {
  gapBeforeS: number;
  gapKind: PlannedRun['gapKind'];
}

/** The gaps of a campaign, seconds. */
export interface Gaps {
  betweenExperimentsS: number;
  betweenCyclesS: number;
}

/**
 * The run sequence: every (configuration, cycle) exactly once, cycles 1..`cycles`. `seed`
 * matters for `shuffled` and `latin_square` only. Linear in configurations × cycles.
 */
export function orderRuns(configurations: readonly string[], cycles: number, order: OrderKind, seed: number): SequencedRun[] {
  if (!Number.isInteger(cycles) || cycles < 0) throw new RangeError(`cycles must be a non-negative integer, got ${cycles}`);
  if (order === 'grouped') return groupedRuns(configurations, cycles);
  const rowOf = cycleOrder(configurations, order, seed);
  const runs: SequencedRun[] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    for (const index of rowOf(cycle)) runs.push({configuration: configurations[index]!, cycle});
  }
  return runs;
}

/** Configuration 1 in every cycle, then configuration 2, …: one switch per configuration. */
function groupedRuns(configurations: readonly string[], cycles: number): SequencedRun[] {
  const runs: SequencedRun[] = [];
  for (const configuration of configurations) {
    for (let cycle = 1; cycle <= cycles; cycle++) runs.push({configuration, cycle});
  }
  return runs;
}

/** For the orders that run every configuration once per cycle: cycle → indices into the plan, in run order. */
function cycleOrder(configurations: readonly string[], order: Exclude<OrderKind, 'grouped'>, seed: number): (cycle: number) => number[] {
  const k = configurations.length;
  const forward = Array.from({length: k}, (_, i) => i);
  switch (order) {
    case 'interleaved':
      return () => forward;
    case 'reverse':
      return (cycle) => (cycle % 2 === 1 ? forward : forward.slice().reverse());
    case 'shuffled': {
      const random = splitmix32(seed);
      return () => shuffle(forward.slice(), random);
    }
    case 'latin_square':
      return latinSquareOrder(k, seed);
  }
}

/** Fisher–Yates in place: every permutation equally likely given uniform `random()` in [0, 1). */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}

/**
 * Cycle c runs row (c − 1) mod rows of the Williams square; symbol s of the square stands for
 * configuration symbolToConfiguration[s], a permutation drawn from `seed` so that plan order
 * does not decide who goes first. The carry-over balance (each configuration preceded by each
 * other equally often) holds exactly when the number of cycles is a multiple of
 * {@link williamsRowCount}; adjacency across the boundary of two cycles is not part of it.
 */
function latinSquareOrder(k: number, seed: number): (cycle: number) => number[] {
  const symbolToConfiguration = shuffle(Array.from({length: k}, (_, i) => i), splitmix32(seed));
  const rows = williamsRowCount(k);
  return (cycle) => williamsRow(k, (cycle - 1) % rows).map((symbol) => symbolToConfiguration[symbol]!);
}

/** Rows of the Williams design for `k` treatments: k for even k, 2k (square and mirror) for odd k > 1, 1 for k ≤ 1. */
export function williamsRowCount(k: number): number {
  if (k <= 1) return 1;
  return k % 2 === 0 ? k : 2 * k;
}

/**
 * Row `row` of the Williams design for `k` symbols 0..k−1, computed in O(k) without building
 * the square. The first row is 0, 1, k−1, 2, k−2, 3, …; row r adds r to each entry mod k. For
 * even k these k rows are a Latin square where each symbol immediately follows each other exactly
 * once; for odd k that needs the mirror too: rows k..2k−1 are rows 0..k−1 reversed, and each
 * ordered pair then appears exactly twice.
 */
export function williamsRow(k: number, row: number): number[] {
  const rows = williamsRowCount(k);
  if (!Number.isInteger(row) || row < 0 || row >= rows) throw new RangeError(`row must be an integer in [0, ${rows}), got ${row}`);
  const shift = row % k;
  const entries = new Array<number>(k);
  for (let j = 0; j < k; j++) entries[j] = (williamsFirstRow(k, j) + shift) % k;
  return row >= k ? entries.reverse() : entries;
}

/** Entry j of the first row: 0, then alternately 1, k−1, 2, k−2, … */
function williamsFirstRow(k: number, j: number): number {
  if (j === 0) return 0;
  return j % 2 === 1 ? (j + 1) / 2 : k - j / 2;
}

/**
 * The pause before each run of `sequence`: none before the first; `betweenCyclesS` before the
 * first run of each cycle k > 1 — in `grouped` order, where a configuration's cycles run back to
 * back, whenever the configuration changes instead —; `betweenExperimentsS` before every other
 * run. Never both: a cycle boundary replaces the experiment gap, it does not add to it.
 */
export function gapsOf(sequence: readonly SequencedRun[], order: OrderKind, gaps: Gaps): RunGap[] {
  return sequence.map((run, i) => {
    if (i === 0) return {gapBeforeS: 0, gapKind: 'none'};
    const previous = sequence[i - 1]!;
    const boundary = order === 'grouped' ? run.configuration !== previous.configuration : run.cycle !== previous.cycle;
    return boundary ? {gapBeforeS: gaps.betweenCyclesS, gapKind: 'cycles'} : {gapBeforeS: gaps.betweenExperimentsS, gapKind: 'experiments'};
  });
}
