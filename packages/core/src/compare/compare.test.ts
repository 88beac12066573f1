/**
 * compareResults on results folders written here: how A and B are named, which configurations
 * meet, which method is used, and the refusals. The statistics themselves are stats.ts's (tested
 * there); here they must be the ones of the values in the folders.
 */
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {isCodedError} from '../errors.js';
import {pairedDifference, welchDifference} from '../campaign/stats.js';
import {compareResults, type CompareReport} from './compare.js';

let results: string;

/** A run's result.json with the figures compare reads; energy unmeasured when `energyPerOutputTokenJ` is null. */
function writeRun(campaign: string, run: {configuration: string; cycle: number; attempt?: number; status?: string; tps: number; jPerToken: number | null}): void {
  const attempt = run.attempt ?? 1;
  const dir = join(results, campaign, `${run.configuration}-c${run.cycle}-t${attempt}`);
  mkdirSync(dir, {recursive: true});
  const energy = run.jPerToken === null ? {available: false, energyJ: null, reason: 'no-meter'} : {available: true, energyJ: run.jPerToken * 100, energyPerOutputTokenJ: run.jPerToken};
  const metrics = {outputTokensPerS: run.tps, requestsPerS: run.tps / 10, ttftMs: {p50: 1000 / run.tps}, itlMs: {p50: 100 / run.tps}, e2eMs: {p50: 2000 / run.tps}, energy};
  const context = {id: campaign, name: campaign.split('-')[0], configuration: run.configuration, cycle: run.cycle, cycles: 3, position: run.cycle, total: 6, planHash: 'h', attempt};
  writeFileSync(join(dir, 'result.json'), JSON.stringify({schemaVersion: 2, status: run.status ?? 'completed', experiment: {name: run.configuration}, campaign: context, metrics}));
}

const TPS = {x: {a: [100, 110, 120], b: [130, 125, 150]}, y: {a: [90, 95]}};

beforeAll(() => {
  results = mkdtempSync(join(tmpdir(), 'lem-compare-'));
  TPS.x.a.forEach((tps, i) => writeRun('x-1', {configuration: 'a', cycle: i + 1, tps, jPerToken: i === 2 ? null : 0.01 * (i + 1)}));
  TPS.x.b.forEach((tps, i) => writeRun('x-1', {configuration: 'b', cycle: i + 1, tps, jPerToken: 0.02}));
  // Cycle 2 of b failed once, then completed: the completed attempt counts, the failed one not at all.
  writeRun('x-1', {configuration: 'b', cycle: 2, attempt: 0, tps: 1, jPerToken: 0.02, status: 'failed'});
  TPS.y.a.forEach((tps, i) => writeRun('y-1', {configuration: 'a', cycle: i + 1, tps, jPerToken: 0.03}));
  writeRun('y-1', {configuration: 'c', cycle: 1, tps: 10, jPerToken: 0.03});
  writeRun('z-1', {configuration: 'q', cycle: 1, tps: 10, jPerToken: 0.03});
  writeRun('z-1', {configuration: 'r', cycle: 1, tps: 10, jPerToken: 0.03});
});

const compare = (a: string, b: string, more: {campaign?: string; all?: boolean} = {}) => compareResults({resultsDir: results, a, b, ...more});
const metricOf = (report: CompareReport, id: string, pair = 0) => report.pairs[pair]!.metrics.find((m) => m.metric === id)!;
const byCycle = (xs: number[]) => new Map(xs.map((x, i) => [i + 1, x]));

function refusal(fn: () => unknown): {code: string; message: string; try: string[]} {
  try {
    fn();
  } catch (error) {
    if (isCodedError(error)) return {code: error.code, message: error.message, try: error.try};
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('compareResults', () => {
  it('pairs two configurations of one campaign by cycle, named <campaign>:<configuration> or with --campaign', () => {
    const report = compare('x-1:a', 'x-1:b');
    expect(report.method).toBe('paired');
    expect(report.pairs.map((p) => [p.a, p.b])).toEqual([['x-1:a', 'x-1:b']]);
    const tps = metricOf(report, 'outputTokensPerS');
    const expected = pairedDifference(byCycle(TPS.x.a), byCycle(TPS.x.b))!;
    expect(tps.difference).toMatchObject({method: 'paired', pairs: 3, df: 2, meanDiff: expected.meanDiff, halfWidth: expected.halfWidth, relativePct: expected.relativePct});
    expect(tps.difference!.relativeHalfWidthPct).toBeCloseTo((expected.halfWidth! / 110) * 100, 12);
    expect(tps.a.stats).toMatchObject({n: 3, mean: 110});
    expect(compare('a', 'b', {campaign: 'x-1'}).pairs).toEqual(report.pairs);
  });

  it("leaves out a run's unknown energy with its reason, and pairs only the cycles both have", () => {
    const energy = metricOf(compare('x-1:a', 'x-1:b'), 'energyPerOutputTokenJ');
    expect(energy.a).toMatchObject({stats: {n: 2}, reason: '1 of 3 runs: energy not measured: no-meter'});
    expect(energy.difference).toMatchObject({pairs: 2, meanDiff: pairedDifference(byCycle([0.01, 0.02]), byCycle([0.02, 0.02, 0.02]))!.meanDiff});
  });

  it("uses Welch's interval across campaigns, and matches two campaigns' configurations by name", () => {
    const one = compare('x-1:a', 'y-1:a');
    expect(one.method).toBe('welch');
    const expected = welchDifference(TPS.x.a, TPS.y.a)!;
    expect(metricOf(one, 'outputTokensPerS').difference).toMatchObject({method: 'welch', pairs: null, nA: 3, nB: 2, df: expected.df, meanDiff: expected.meanDiff, halfWidth: expected.halfWidth});
    const both = compare('x-1', 'y-1', {all: true});
    expect(both.pairs.map((p) => [p.a, p.b])).toEqual([['x-1:a', 'y-1:a']]);
    expect(both.unmatched).toEqual({a: ['b'], b: ['c']});
    expect(both.pairs[0]!.metrics).toHaveLength(12);
    expect(metricOf(both, 'outputTokensPerS').difference).toEqual(metricOf(one, 'outputTokensPerS').difference);
  });

  it('compares a single run as a side of one value, and cannot tell its interval', () => {
    const run = join(results, 'x-1', 'b-c3-t1');
    const m = metricOf(compare('x-1:a', run), 'outputTokensPerS');
    expect(m.b.stats).toMatchObject({n: 1, mean: 150});
    expect(m.difference).toMatchObject({method: 'welch', nB: 1, halfWidth: null});
    expect(m.verdict.kind).toBe('cannot-tell');
  });

  it('refuses the same side twice, an ambiguous campaign, unknown names and campaigns with nothing in common', () => {
    expect(refusal(() => compare('x-1:a', 'x-1:a')).code).toBe('E_COMPARE_SAME');
    expect(refusal(() => compare('x-1', join(results, 'x-1'))).try).toEqual(['lem results compare x-1:a x-1:b']);
    const ambiguous = refusal(() => compare('x-1', 'x-1:a'));
    expect(ambiguous.code).toBe('E_COMPARE_AMBIGUOUS');
    expect(ambiguous.try).toEqual(['lem results compare x-1:b x-1:a']);
    const unknown = refusal(() => compare('x-1:a', 'x-1:nope'));
    expect(unknown).toMatchObject({code: 'E_COMPARE_UNKNOWN_CONFIGURATION', message: 'campaign x-1 has no configuration "nope"; its configurations: a, b'});
    expect(refusal(() => compare('x-1', 'z-1')).code).toBe('E_COMPARE_NO_MATCH');
    expect(refusal(() => compare(`${join(results, 'x-1', 'a-c1-t1')}:a`, 'x-1:a')).code).toBe('E_COMPARE_NOT_A_CAMPAIGN');
    expect(refusal(() => compare('nothing-here', 'x-1:a')).code).toBe('E_RESULT_NOT_FOUND');
  });
});
