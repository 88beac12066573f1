/**
 * The configurations table: per configuration and metric, the statistics across cycles. Taken as
 * they are from summary.json where it has the metric; otherwise (TTFT/ITL p90 and p99, a campaign
 * without summary.json, runs given on their own) computed from the runs with the summary's own
 * function (`describe`: n, mean, sample std, CV, Student-t 95 % CI), one value per cycle, the
 * last attempt counting — as the summary counts them.
 */
import {describe, type CycleStats} from '../campaign/stats.js';
import {CAMPAIGN_METRICS, type CampaignMetricId} from '../campaign/summary.js';
import type {Summary} from '../experiment/metrics.js';
import type {ReportCell, ReportConfiguration, ReportMetric, RunView} from './model.js';
import {configurationKey} from './runs.js';
import type {LoadedSource, SummaryFile} from './sources.js';

function campaignMetric(id: CampaignMetricId, displayUnit: string, displayScale: number): ReportMetric {
  const m = CAMPAIGN_METRICS.find((c) => c.id === id)!;
  return {id, label: m.label, unit: m.unit, displayUnit, displayScale, better: m.better, energy: m.energy, summaryId: id, get: m.get};
}

function percentile(key: 'ttftMs' | 'itlMs', q: keyof Pick<Summary, 'p90' | 'p99'>, label: string): ReportMetric {
  const id = `${key.replace('Ms', '')}${q.toUpperCase()}Ms`;
  return {id, label, unit: 'ms', displayUnit: 'ms', displayScale: 1, better: 'lower', energy: false, summaryId: null, get: (m) => m[key]?.[q] ?? null};
}

/** The table's columns, in order. Energy per output token is shown in mJ/token (values stay in J). */
export const REPORT_METRICS: readonly ReportMetric[] = [
  campaignMetric('energyPerOutputTokenJ', 'mJ/token', 1000),
  campaignMetric('outputTokensPerS', 'tokens/s', 1),
  campaignMetric('ttftP50Ms', 'ms', 1),
  percentile('ttftMs', 'p90', 'TTFT p90'),
  percentile('ttftMs', 'p99', 'TTFT p99'),
  campaignMetric('itlP50Ms', 'ms', 1),
  percentile('itlMs', 'p90', 'ITL p90'),
  percentile('itlMs', 'p99', 'ITL p99'),
  campaignMetric('avgPowerW', 'W', 1),
];

/** Per cycle the run that counts: the last attempt (a run on its own counts as cycle 0). */
export function countedRuns(runs: readonly RunView[]): RunView[] {
  const byCycle = new Map<number, RunView>();
  for (const r of runs) {
    const cycle = r.cycle ?? 0;
    const kept = byCycle.get(cycle);
    if (!kept || (r.attempt ?? 0) >= (kept.attempt ?? 0)) byCycle.set(cycle, r);
  }
  return [...byCycle.values()];
}

const distinct = (xs: Array<string | null>): string => [...new Set(xs.filter((x): x is string => x !== null))].join(', ');

/** Why a configuration has no value for the metric: no completed run, energy not measured, or unknown in each run. */
function reasonFor(metric: ReportMetric, completed: RunView[], failed: RunView[]): string {
  if (completed.length === 0) return failed.length > 0 ? `no completed run (${failed.length} failed: ${distinct(failed.map((r) => r.failureCode))})` : 'no completed run';
  const unmeasured = completed.filter((r) => r.energyReason !== null);
  if (metric.energy && unmeasured.length === completed.length) return `energy not measured: ${distinct(unmeasured.map((r) => r.energyReason))}`;
  return 'unknown in every completed run';
}

function cellFromRuns(metric: ReportMetric, completed: RunView[]): CycleStats | null {
  const values = completed.map((r) => (r.metrics ? metric.get(r.metrics) : null)).filter((v): v is number => v !== null && Number.isFinite(v));
  return describe(values);
}

function cellOf(metric: ReportMetric, name: string, summary: SummaryFile | null, counted: RunView[]): ReportCell {
  const completed = counted.filter((r) => r.status === 'completed');
  const failed = counted.filter((r) => r.status !== 'completed');
  const fromSummary = metric.summaryId !== null && summary !== null ? summary.summary.configurations.find((c) => c.name === name) : undefined;
  const stats = fromSummary ? (fromSummary.metrics[metric.summaryId!] ?? null) : cellFromRuns(metric, completed);
  return {stats, from: fromSummary ? 'summary' : 'runs', reason: stats === null ? reasonFor(metric, completed, failed) : null};
}

/** The configurations of one source, in plan order (summary.json's), else in the order their runs appear. */
function namesOf(loaded: LoadedSource, runs: readonly RunView[]): string[] {
  const planned = loaded.summary?.summary.configurations.map((c) => c.name) ?? [];
  return [...new Set([...planned, ...runs.map((r) => r.configuration)])];
}

/** One row per configuration of every source (a run given on its own is its own configuration). */
export function configurationRows(sources: readonly LoadedSource[], runs: readonly RunView[]): ReportConfiguration[] {
  return sources.flatMap((loaded) => {
    const id = loaded.source.kind === 'campaign' ? loaded.source.id : null;
    const own = runs.filter((r) => r.source === id && (id !== null || r.path === loaded.source.path));
    return namesOf(loaded, own).map((name) => {
      const counted = countedRuns(own.filter((r) => r.configuration === name));
      const cells = Object.fromEntries(REPORT_METRICS.map((m) => [m.id, cellOf(m, name, loaded.summary, counted)]));
      const completed = counted.filter((r) => r.status === 'completed').length;
      return {key: configurationKey(id, name), name, source: id, completed, failed: counted.length - completed, cells};
    });
  });
}
