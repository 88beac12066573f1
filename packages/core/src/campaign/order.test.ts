import {describe, expect, it} from 'vitest';
import {gapsOf, orderRuns, shuffle, williamsRow, williamsRowCount, type SequencedRun} from './order.js';
import type {OrderKind} from './types.js';

const ORDERS: OrderKind[] = ['interleaved', 'shuffled', 'grouped', 'reverse', 'latin_square'];
const keys = (runs: SequencedRun[]) => runs.map((r) => `${r.configuration}${r.cycle}`);
const cycleRows = (runs: SequencedRun[], cycles: number) =>
  Array.from({length: cycles}, (_, c) => runs.filter((r) => r.cycle === c + 1).map((r) => r.configuration));

/** Ordered pairs (x immediately followed by y) over the rows, as `x>y` → count. */
function adjacentPairs(rows: readonly (readonly (number | string)[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) {
    for (let j = 1; j < row.length; j++) {
      const pair = `${row[j - 1]}>${row[j]}`;
      counts.set(pair, (counts.get(pair) ?? 0) + 1);
    }
  }
  return counts;
}

describe('orderRuns: fixed orders', () => {
  const abc = ['A', 'B', 'C'];

  it('interleaved runs every configuration in plan order each cycle', () => {
    expect(keys(orderRuns(abc, 2, 'interleaved', 0))).toEqual(['A1', 'B1', 'C1', 'A2', 'B2', 'C2']);
  });

  it('grouped runs each configuration through all its cycles', () => {
    expect(keys(orderRuns(abc, 2, 'grouped', 0))).toEqual(['A1', 'A2', 'B1', 'B2', 'C1', 'C2']);
  });

  it('reverse runs odd cycles forward and even cycles backward', () => {
    expect(keys(orderRuns(abc, 3, 'reverse', 0))).toEqual(['A1', 'B1', 'C1', 'C2', 'B2', 'A2', 'A3', 'B3', 'C3']);
  });

  it('gives nothing for no configurations or no cycles, and refuses a fractional cycle count', () => {
    for (const order of ORDERS) {
      expect(orderRuns([], 3, order, 1)).toEqual([]);
      expect(orderRuns(abc, 0, order, 1)).toEqual([]);
    }
    expect(() => orderRuns(abc, 1.5, 'interleaved', 1)).toThrow(RangeError);
  });
});

describe('orderRuns: seeded orders', () => {
  const six = ['a', 'b', 'c', 'd', 'e', 'f'];

  it('shuffled draws an independent permutation per cycle, pinned for seed 42', () => {
    const runs = orderRuns(six, 3, 'shuffled', 42);
    const rows = cycleRows(runs, 3);
    for (const row of rows) expect(row.slice().sort()).toEqual(six);
    expect(new Set(rows.map((r) => r.join(''))).size).toBeGreaterThan(1);
    // Pinned: a resumed campaign must replay exactly this sequence.
    expect(rows.map((r) => r.join(''))).toEqual(['fdcaeb', 'cefbad', 'cbedaf']);
  });

  it('latin_square runs the rows of a Williams square through a seeded symbol mapping', () => {
    const four = ['w', 'x', 'y', 'z'];
    const rows = cycleRows(orderRuns(four, 8, 'latin_square', 7), 8);
    // Row 0 is 0 1 3 2: its entries name the configuration behind each symbol.
    const symbol = [rows[0]![0]!, rows[0]![1]!, rows[0]![3]!, rows[0]![2]!];
    for (let c = 0; c < 8; c++) expect(rows[c]).toEqual(williamsRow(4, c % 4).map((s) => symbol[s]));
    // Pinned: a resumed campaign must replay exactly this sequence.
    expect(rows.map((r) => r.join(''))).toEqual(['zywx', 'yxzw', 'xwyz', 'wzxy', 'zywx', 'yxzw', 'xwyz', 'wzxy']);
  });

  it('balances who precedes whom when cycles are a multiple of the rows', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const pairs = adjacentPairs(cycleRows(orderRuns(five, 10, 'latin_square', 3), 10));
    expect(pairs.size).toBe(20);
    expect([...pairs.values()].every((n) => n === 2)).toBe(true);
  });

  it('gives the same sequence for the same seed and another for another seed', () => {
    for (const order of ['shuffled', 'latin_square'] as const) {
      expect(orderRuns(six, 4, order, 123)).toEqual(orderRuns(six, 4, order, 123));
      expect(keys(orderRuns(six, 4, order, 123))).not.toEqual(keys(orderRuns(six, 4, order, 124)));
    }
  });

  it('runs every (configuration, cycle) exactly once, whatever the order', () => {
    for (const order of ORDERS) {
      for (const k of [1, 2, 3, 4, 7]) {
        const configurations = Array.from({length: k}, (_, i) => `c${i}`);
        const runs = orderRuns(configurations, 5, order, 99);
        const expected = configurations.flatMap((c) => [1, 2, 3, 4, 5].map((cycle) => `${c}#${cycle}`)).sort();
        expect(runs.map((r) => `${r.configuration}#${r.cycle}`).sort()).toEqual(expected);
      }
    }
  });
});

describe('williamsRow', () => {
  const square = (k: number) => Array.from({length: williamsRowCount(k)}, (_, r) => williamsRow(k, r));

  it('builds the classic square for K = 4', () => {
    expect(square(4)).toEqual([
      [0, 1, 3, 2],
      [1, 2, 0, 3],
      [2, 3, 1, 0],
      [3, 0, 2, 1],
    ]);
  });

  it('has every ordered pair adjacent exactly once for even K (2, 4, 6)', () => {
    for (const k of [2, 4, 6]) {
      const pairs = adjacentPairs(square(k));
      expect(pairs.size).toBe(k * (k - 1));
      expect([...pairs.values()].every((n) => n === 1)).toBe(true);
    }
  });

  it('adds the mirror for odd K (3, 5): 2K rows, every ordered pair adjacent exactly twice', () => {
    expect(square(3)).toEqual([
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
      [0, 2, 1],
      [1, 0, 2],
    ]);
    for (const k of [3, 5]) {
      const pairs = adjacentPairs(square(k));
      expect(williamsRowCount(k)).toBe(2 * k);
      expect(pairs.size).toBe(k * (k - 1));
      expect([...pairs.values()].every((n) => n === 2)).toBe(true);
    }
  });

  it('is a Latin square: every row and every column of each square holds each symbol once', () => {
    for (const k of [2, 3, 4, 5, 6]) {
      const rows = square(k);
      for (const row of rows) expect(row.slice().sort((x, y) => x - y)).toEqual([...Array(k).keys()]);
      for (let j = 0; j < k; j++) expect(new Set(rows.slice(0, k).map((r) => r[j])).size).toBe(k);
    }
  });

  it('has one row for K = 1', () => {
    expect(square(1)).toEqual([[0]]);
    expect(keys(orderRuns(['only'], 3, 'latin_square', 5))).toEqual(['only1', 'only2', 'only3']);
  });

  it('refuses a row outside the design', () => {
    expect(() => williamsRow(4, 4)).toThrow(RangeError);
    expect(() => williamsRow(3, -1)).toThrow(RangeError);
  });
});

describe('shuffle', () => {
  it('permutes in place', () => {
    let i = 0;
    const values = [0.9, 0.1, 0.5, 0.3];
    const items = shuffle([1, 2, 3, 4, 5], () => values[i++ % values.length]!);
    expect(items.slice().sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('gapsOf', () => {
  const gaps = {betweenExperimentsS: 60, betweenCyclesS: 300};

  it('puts the cycle gap before the first run of each later cycle (interleaved)', () => {
    const runs = orderRuns(['A', 'B'], 3, 'interleaved', 0);
    expect(gapsOf(runs, 'interleaved', gaps)).toEqual([
      {gapBeforeS: 0, gapKind: 'none'},
      {gapBeforeS: 60, gapKind: 'experiments'},
      {gapBeforeS: 300, gapKind: 'cycles'},
      {gapBeforeS: 60, gapKind: 'experiments'},
      {gapBeforeS: 300, gapKind: 'cycles'},
      {gapBeforeS: 60, gapKind: 'experiments'},
    ]);
  });

  it('puts the cycle gap where the configuration changes (grouped)', () => {
    const runs = orderRuns(['A', 'B'], 3, 'grouped', 0);
    expect(gapsOf(runs, 'grouped', gaps).map((g) => g.gapKind)).toEqual(['none', 'experiments', 'experiments', 'cycles', 'experiments', 'experiments']);
    expect(gapsOf(runs, 'grouped', gaps)[3]!.gapBeforeS).toBe(300);
  });

  it('follows the executed sequence of the other orders too', () => {
    const runs = orderRuns(['A', 'B', 'C'], 2, 'reverse', 0);
    expect(gapsOf(runs, 'reverse', gaps).map((g) => g.gapBeforeS)).toEqual([0, 60, 60, 300, 60, 60]);
    expect(gapsOf([], 'interleaved', gaps)).toEqual([]);
  });
});

describe('orderRuns: size', () => {
  it('orders 10,000 configurations × 3 cycles well under 100 ms, whatever the order', () => {
    const configurations = Array.from({length: 10_000}, (_, i) => `c${i}`);
    for (const order of ORDERS) {
      orderRuns(configurations, 3, order, 1); // warm the JIT
      const start = performance.now();
      const runs = orderRuns(configurations, 3, order, 1);
      gapsOf(runs, order, {betweenExperimentsS: 60, betweenCyclesS: 300});
      expect(runs).toHaveLength(30_000);
      expect(performance.now() - start).toBeLessThan(100);
    }
  });
});
