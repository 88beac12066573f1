import {describe, expect, it} from 'vitest';
import {describe as describeCycles} from '../campaign/stats.js';
import {CAMPAIGN_METRICS, type CampaignMetricId} from '../campaign/summary.js';
import {formatFigure, formatPlusMinus, verdict, type CompareDifference, type CompareSideStats} from './verdict.js';

const metric = (id: CampaignMetricId) => CAMPAIGN_METRICS.find((m) => m.id === id)!;
const side = (values: number[], reason: string | null = null): CompareSideStats => ({stats: describeCycles(values), reason});
const three = side([1, 2, 3]);

/** A difference with relative figures derived from meanDiff, halfWidth and A's mean, as compare.ts derives them. */
function diff(meanDiff: number, halfWidth: number | null, baselineMean: number, how: {pairs: number} | {nA: number; nB: number} = {pairs: 3}): CompareDifference {
  const paired = 'pairs' in how;
  return {
    method: paired ? 'paired' : 'welch',
    pairs: paired ? how.pairs : null,
    nA: paired ? how.pairs : how.nA,
    nB: paired ? how.pairs : how.nB,
    df: null,
    meanDiff,
    halfWidth,
    ciLow: halfWidth === null ? null : meanDiff - halfWidth,
    ciHigh: halfWidth === null ? null : meanDiff + halfWidth,
    baselineMean,
    relativePct: baselineMean === 0 ? null : (meanDiff / baselineMean) * 100,
    relativeHalfWidthPct: halfWidth === null || baselineMean === 0 ? null : (halfWidth / Math.abs(baselineMean)) * 100,
  };
}

describe('verdict', () => {
  it('says how much less energy B uses when the interval lies below 0, as better', () => {
    const v = verdict(metric('energyPerOutputTokenJ'), three, three, diff(-0.018, 0.004, 0.1));
    expect(v).toEqual({kind: 'better', text: 'B uses 18 % ± 4 % less energy per output token than A (better; paired over 3 cycles)'});
  });

  it('follows the direction of the metric: more throughput is better, higher latency worse', () => {
    expect(verdict(metric('outputTokensPerS'), three, three, diff(12, 3, 100))).toEqual({kind: 'better', text: 'B produces 12 % ± 3 % more output tokens per second than A (better; paired over 3 cycles)'});
    expect(verdict(metric('outputTokensPerS'), three, three, diff(-12, 3, 100)).text).toBe('B produces 12 % ± 3 % fewer output tokens per second than A (worse; paired over 3 cycles)');
    const slower = verdict(metric('ttftP50Ms'), three, side([1, 2, 3, 4]), diff(0.75, 0.12, 10, {nA: 3, nB: 4}));
    expect(slower).toEqual({kind: 'worse', text: 'B has 7.5 % ± 1.2 % higher TTFT p50 than A (worse; unpaired, Welch over 3 and 4 runs)'});
  });

  it('claims no difference while the interval includes 0, its edge included', () => {
    expect(verdict(metric('ttftP50Ms'), three, three, diff(-0.2, 0.5, 10))).toEqual({kind: 'no-clear-difference', text: 'no clear difference in TTFT p50 (−2 % ± 5 %, the interval includes 0; paired over 3 cycles)'});
    expect(verdict(metric('avgPowerW'), three, three, diff(3, 3, 100)).kind).toBe('no-clear-difference');
    expect(verdict(metric('avgPowerW'), three, three, diff(3, 3, 100)).text).toMatch(/^no clear difference in average power \(\+3 % ± 3 %/);
  });

  it('cannot tell with one value on a side, or one cycle in common, and never shows an interval then', () => {
    const one = side([5]);
    expect(verdict(metric('ttftP50Ms'), one, three, diff(1, null, 5, {nA: 1, nB: 3}))).toEqual({kind: 'cannot-tell', text: 'cannot tell for TTFT p50: A has one value (an interval needs two on each side)'});
    expect(verdict(metric('ttftP50Ms'), three, one, diff(1, null, 5, {nA: 3, nB: 1})).text).toBe('cannot tell for TTFT p50: B has one value (an interval needs two on each side)');
    expect(verdict(metric('ttftP50Ms'), one, one, diff(1, null, 5, {nA: 1, nB: 1})).text).toBe('cannot tell for TTFT p50: A and B have one value each (an interval needs two on each side)');
    expect(verdict(metric('ttftP50Ms'), three, three, diff(1, null, 5, {pairs: 1})).text).toBe('cannot tell for TTFT p50: A and B have one cycle in common (an interval needs two)');
    expect(verdict(metric('ttftP50Ms'), three, three, null).text).toBe('cannot tell for TTFT p50: A and B have no cycle in common');
  });

  it('gives the reason energy is unknown, never a 0', () => {
    const unmeasured = side([], 'energy not measured: no-meter');
    const v = verdict(metric('energyPerOutputTokenJ'), three, unmeasured, null);
    expect(v).toEqual({kind: 'cannot-tell', text: 'cannot tell for energy per output token: B has no value (energy not measured: no-meter)'});
    expect(verdict(metric('energyJ'), unmeasured, unmeasured, null).text).toBe('cannot tell for energy: neither A nor B has a value (energy not measured: no-meter)');
    expect(verdict(metric('energyJ'), unmeasured, side([], 'energy not measured: remote-endpoint'), null).text).toBe(
      'cannot tell for energy: neither A nor B has a value (A: energy not measured: no-meter; B: energy not measured: remote-endpoint)',
    );
  });

  it('falls back to the absolute difference in the unit when A averages 0', () => {
    expect(verdict(metric('idleAdjustedEnergyJ'), three, three, diff(0.25, 0.05, 0)).text).toBe('B uses 0.25 J ± 0.05 J more idle-adjusted energy than A (worse; paired over 3 cycles)');
  });
});

describe('formatPlusMinus and formatFigure', () => {
  it('shows the uncertainty to one significant digit (two when it starts with 1) and the value to match', () => {
    expect(formatPlusMinus(18.234, 4.1)).toBe('18 ± 4');
    expect(formatPlusMinus(2.345, 0.14)).toBe('2.35 ± 0.14');
    expect(formatPlusMinus(-0.0012, 0.0031, 'J')).toBe('−0.001 J ± 0.003 J');
    expect(formatPlusMinus(783.27, 2656)).toBe('783 ± 2656');
  });

  it('shows a spread of rounding noise no finer than four significant digits of the value, and no sign on a rounded 0', () => {
    expect(formatPlusMinus(0.74, 1e-13)).toBe('0.7400 ± 0.0000');
    expect(formatPlusMinus(-0.001, 0.3)).toBe('0.0 ± 0.3');
    expect(formatPlusMinus(5, 0)).toBe('5.000 ± 0.000');
  });

  it('shows a figure alone to four significant digits, never in exponent form', () => {
    expect(formatPlusMinus(0.000123456, null)).toBe('0.0001235');
    expect(formatFigure(12345.6)).toBe('12346');
    expect(formatFigure(-2.5)).toBe('−2.500');
    expect(formatFigure(0)).toBe('0');
  });
});
