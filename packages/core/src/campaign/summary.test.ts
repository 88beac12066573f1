import {parse} from 'csv-parse/sync';
import {describe, expect, it} from 'vitest';
import type {RunMetrics, Summary} from '../experiment/metrics.js';
import {tQuantile975} from './stats.js';
import {CAMPAIGN_METRICS, COMPARISONS_CSV_HEADER, comparisonsCsv, SUMMARY_CSV_HEADER, summarizeCampaign, summaryCsv, type CompletedRun} from './summary.js';

interface Figures {
  energyJ?: number | null;
  outputTokens?: number;
  tokensPerS?: number | null;
  ttftP50Ms?: number | null;
}

const latency = (p50: number): Summary => ({n: 10, mean: p50, p50, p90: p50, p95: p50, p99: p50, min: p50, max: p50});

/** The few fields a campaign summary reads; the rest of RunMetrics is irrelevant here. */
function metrics({energyJ = 100, outputTokens = 1000, tokensPerS = 50, ttftP50Ms = 20}: Figures): RunMetrics {
  const energy =
    energyJ === null
      ? {available: false, energyJ: null, reason: 'no meter'}
      : {
          available: true,
          energyJ,
          energyPerOutputTokenJ: energyJ / outputTokens,
          energyPerRequestJ: energyJ / 10,
          outputTokensPerJ: outputTokens / energyJ,
          avgPowerW: energyJ / 20,
          idlePowerW: 1,
          idleAdjustedEnergyJ: energyJ - 20,
        };
  return {
    outputTokensPerS: tokensPerS,
    requestsPerS: 0.5,
    ttftMs: ttftP50Ms === null ? null : latency(ttftP50Ms),
    itlMs: latency(5),
    e2eMs: null,
    energy,
  } as unknown as RunMetrics;
}

const run = (configuration: string, cycle: number, figures: Figures | null): CompletedRun => ({configuration, cycle, metrics: figures && metrics(figures)});

describe('CAMPAIGN_METRICS', () => {
  it('has unique ids and the four headline metrics', () => {
    expect(new Set(CAMPAIGN_METRICS.map((m) => m.id)).size).toBe(CAMPAIGN_METRICS.length);
    expect(CAMPAIGN_METRICS.filter((m) => m.headline).map((m) => m.id)).toEqual(['energyPerOutputTokenJ', 'outputTokensPerS', 'ttftP50Ms', 'itlP50Ms']);
  });

  it('reads null, not 0, where a run has no energy or no latency', () => {
    const m = metrics({energyJ: null, ttftP50Ms: null});
    for (const id of ['energyJ', 'energyPerOutputTokenJ', 'avgPowerW', 'idlePowerW', 'outputTokensPerJ', 'ttftP50Ms', 'e2eP50Ms']) {
      expect(CAMPAIGN_METRICS.find((x) => x.id === id)!.get(m)).toBeNull();
    }
    expect(CAMPAIGN_METRICS.find((x) => x.id === 'itlP50Ms')!.get(m)).toBe(5);
  });
});

describe('summarizeCampaign', () => {
  const runs = [
    run('A', 1, {energyJ: 100, tokensPerS: 50}),
    run('A', 2, {energyJ: 110, tokensPerS: 52}),
    run('A', 3, {energyJ: 120, tokensPerS: 54}),
    run('B', 1, {energyJ: 90, tokensPerS: 60}),
    run('B', 3, {energyJ: 100, tokensPerS: 58}),
    run('C', 1, null),
    run('unplanned', 1, {energyJ: 1}),
  ];
  const summary = summarizeCampaign(['A', 'B', 'C'], runs);

  it('describes each configuration and metric over the cycles where it is known', () => {
    const a = summary.configurations[0]!;
    expect(a.name).toBe('A');
    // 100, 110, 120: mean 110, s = 10, halfWidth = t(0.975, 2) · 10 / √3.
    expect(a.metrics.energyJ!.mean).toBe(110);
    expect(a.metrics.energyJ!.std).toBeCloseTo(10, 12);
    expect(a.metrics.energyJ!.halfWidth).toBeCloseTo((tQuantile975(2) * 10) / Math.sqrt(3), 12);
    expect(a.metrics.e2eP50Ms).toBeNull();
    expect(summary.configurations[1]!.metrics.energyJ!.n).toBe(2);
    expect(summary.configurations.map((c) => c.name)).toEqual(['A', 'B', 'C']);
    expect(Object.values(summary.configurations[2]!.metrics).every((s) => s === null)).toBe(true);
  });

  it('compares every pair in plan order on the headline metrics, B − A over common cycles', () => {
    expect(summary.comparisons).toHaveLength(3 * 4);
    const ab = summary.comparisons.find((c) => c.a === 'A' && c.b === 'B' && c.metric === 'outputTokensPerS')!;
    // Common cycles 1 and 3: differences 60 − 50 = 10 and 58 − 54 = 4 → mean 7; A over them: 52.
    expect(ab.diff!.n).toBe(2);
    expect(ab.diff!.meanDiff).toBe(7);
    expect(ab.diff!.relativePct).toBeCloseTo((7 / 52) * 100, 12);
    expect(summary.comparisons.find((c) => c.a === 'A' && c.b === 'C')!.diff).toBeNull();
  });

  it('names the best configuration in the direction of each metric', () => {
    expect(summary.best.energyJ).toBe('B'); // lower: 95 < 110
    expect(summary.best.outputTokensPerS).toBe('B'); // higher: 59 > 52
    expect(summary.best.e2eP50Ms).toBeNull();
    expect(summarizeCampaign(['X', 'Y'], [run('X', 1, {}), run('Y', 1, {})]).best.energyJ).toBe('X');
  });
});

describe('summaryCsv and comparisonsCsv', () => {
  const tricky = 'conc=4, "fast"';
  const summary = summarizeCampaign(
    [tricky, 'plain'],
    [run(tricky, 1, {energyJ: 0.1 + 0.2}), run(tricky, 2, {energyJ: 1 / 3}), run('plain', 1, {energyJ: 5}), run('plain', 2, {energyJ: 6})],
  );

  it('writes one row per configuration × metric that reads back with the same values', () => {
    const rows = parse(summaryCsv(summary), {columns: true}) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual(SUMMARY_CSV_HEADER);
    expect(rows).toHaveLength(2 * CAMPAIGN_METRICS.length);
    const energy = rows.find((r) => r.configuration === tricky && r.metric === 'energyJ')!;
    const stats = summary.configurations[0]!.metrics.energyJ!;
    expect(energy.unit).toBe('J');
    expect(energy.n).toBe('2');
    expect(Number(energy.mean)).toBe(stats.mean); // full precision: reads back to the same double
    expect(Number(energy.ci_high)).toBe(stats.ciHigh);
    expect(Number(energy.min)).toBe(0.1 + 0.2);
    const e2e = rows.find((r) => r.configuration === 'plain' && r.metric === 'e2eP50Ms')!;
    expect([e2e.n, e2e.mean, e2e.std, e2e.cv, e2e.ci_low, e2e.max]).toEqual(['0', '', '', '', '', '']);
  });

  it('writes the paired comparisons with their difference B − A', () => {
    const text = comparisonsCsv(summary);
    const rows = parse(text, {columns: true}) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual(COMPARISONS_CSV_HEADER);
    expect(rows).toHaveLength(4);
    const row = rows.find((r) => r.metric === 'energyPerOutputTokenJ')!;
    const diff = summary.comparisons.find((c) => c.metric === 'energyPerOutputTokenJ')!.diff!;
    expect([row.configuration_a, row.configuration_b, row.unit, row.n_pairs]).toEqual([tricky, 'plain', 'J/token', '2']);
    expect(Number(row.mean_difference)).toBe(diff.meanDiff);
    expect(Number(row.relative_pct)).toBe(diff.relativePct);
    expect(diff.meanDiff).toBeGreaterThan(0);
  });

  it('quotes only what needs quoting, with LF line ends (pandas reads it as is)', () => {
    const text = summaryCsv(summary);
    expect(text.startsWith('configuration,metric,unit,n,mean,std,cv,ci_low,ci_high,min,max\n')).toBe(true);
    expect(text).toContain('"conc=4, ""fast""",energyJ,J,2,');
    expect(text).not.toContain('\r');
  });
});
