/**
 * The summary of a campaign (DESIGN §7, results/<id>/): per configuration and metric the
 * statistics across cycles (summary.json, summary.csv), per pair of configurations the mean
 * difference paired by cycle (comparisons.csv), and the best configuration per metric. Pure
 * functions of the completed runs' figures, so `lem results recompute` can rebuild them.
 */
import {stringify} from 'csv-stringify/sync';
import type {EnergyFigures, RunMetrics} from '../experiment/metrics.js';
import {describe, pairedDifference, type CycleStats, type PairedDiff} from './stats.js';

export type CampaignMetricId =
  | 'energyPerOutputTokenJ'
  | 'energyJ'
  | 'outputTokensPerS'
  | 'requestsPerS'
  | 'ttftP50Ms'
  | 'itlP50Ms'
  | 'e2eP50Ms'
  | 'avgPowerW'
  | 'energyPerRequestJ'
  | 'idlePowerW'
  | 'idleAdjustedEnergyJ'
  | 'outputTokensPerJ';

/** A per-run figure a campaign compares across cycles and configurations. */
export interface CampaignMetric {
  id: CampaignMetricId;
  label: string;
  unit: string;
  /** Which direction is an improvement; decides `best`. */
  better: 'lower' | 'higher';
  /** Headline metrics get pairwise comparisons (comparisons.csv) and the end-of-campaign display. */
  headline: boolean;
  /** Derived from the energy block: unknown, with the run's energy reason, when energy was not measured. */
  energy: boolean;
  /** The figure of one run, or null where it is unknown (that run then drops out of this metric). */
  get(metrics: RunMetrics): number | null;
}

type MeasuredEnergy = Extract<EnergyFigures, {available: true}>;
type EnergyKey = {[K in keyof MeasuredEnergy]: MeasuredEnergy[K] extends number | null ? K : never}[keyof MeasuredEnergy];

/** A figure of the energy block: null when the run measured no energy. */
const fromEnergy =
  (key: EnergyKey) =>
  (m: RunMetrics): number | null =>
    m.energy.available ? m.energy[key] : null;

/** The metrics of a campaign summary, in display order. Definitions: METRIC_DEFINITIONS (experiment/metrics.ts). */
export const CAMPAIGN_METRICS: readonly CampaignMetric[] = [
  {id: 'energyPerOutputTokenJ', label: 'Energy per output token', unit: 'J/token', better: 'lower', headline: true, energy: true, get: fromEnergy('energyPerOutputTokenJ')},
  {id: 'energyJ', label: 'Energy', unit: 'J', better: 'lower', headline: false, energy: true, get: fromEnergy('energyJ')},
  {id: 'outputTokensPerS', label: 'Output tokens per second', unit: 'tokens/s', better: 'higher', headline: true, energy: false, get: (m) => m.outputTokensPerS},
  {id: 'requestsPerS', label: 'Requests per second', unit: 'requests/s', better: 'higher', headline: false, energy: false, get: (m) => m.requestsPerS},
  {id: 'ttftP50Ms', label: 'TTFT p50', unit: 'ms', better: 'lower', headline: true, energy: false, get: (m) => m.ttftMs?.p50 ?? null},
  {id: 'itlP50Ms', label: 'ITL p50', unit: 'ms', better: 'lower', headline: true, energy: false, get: (m) => m.itlMs?.p50 ?? null},
  {id: 'e2eP50Ms', label: 'E2E p50', unit: 'ms', better: 'lower', headline: false, energy: false, get: (m) => m.e2eMs?.p50 ?? null},
  {id: 'avgPowerW', label: 'Average power', unit: 'W', better: 'lower', headline: false, energy: true, get: fromEnergy('avgPowerW')},
  {id: 'energyPerRequestJ', label: 'Energy per request', unit: 'J/request', better: 'lower', headline: false, energy: true, get: fromEnergy('energyPerRequestJ')},
  {id: 'idlePowerW', label: 'Idle power', unit: 'W', better: 'lower', headline: false, energy: true, get: fromEnergy('idlePowerW')},
  {id: 'idleAdjustedEnergyJ', label: 'Idle-adjusted energy', unit: 'J', better: 'lower', headline: false, energy: true, get: fromEnergy('idleAdjustedEnergyJ')},
  {id: 'outputTokensPerJ', label: 'Output tokens per joule', unit: 'tokens/J', better: 'higher', headline: false, energy: true, get: fromEnergy('outputTokensPerJ')},
];

/** A run of the campaign that completed, with its figures (null when its result could not be read). */
export interface CompletedRun {
  configuration: string;
  cycle: number;
  metrics: RunMetrics | null;
}

export interface ConfigurationSummary {
  name: string;
  /** Per metric, its statistics over the cycles where it is known; null when it is known in none. */
  metrics: Record<CampaignMetricId, CycleStats | null>;
}

/** `diff` is B − A (`b` minus `a`) paired by cycle; `a` comes before `b` in plan order. */
export interface Comparison {
  a: string;
  b: string;
  metric: CampaignMetricId;
  diff: PairedDiff | null;
}

export interface CampaignSummary {
  configurations: ConfigurationSummary[];
  comparisons: Comparison[];
  /** Per metric, the configuration with the best mean (ties: the first in plan order); null when none has one. */
  best: Record<CampaignMetricId, string | null>;
}

/** Per metric, cycle → value. */
export type CycleValues = Map<CampaignMetricId, Map<number, number>>;

/**
 * Values by configuration, metric and cycle. Runs of configurations not in the plan are ignored;
 * unknown and non-finite figures are left out (never counted as 0); a repeated cycle keeps its
 * last value.
 */
export function collectValues(configurations: readonly string[], runs: readonly CompletedRun[]): Map<string, CycleValues> {
  const byName = new Map<string, CycleValues>();
  for (const name of configurations) byName.set(name, new Map(CAMPAIGN_METRICS.map((m) => [m.id, new Map<number, number>()])));
  for (const run of runs) {
    const values = byName.get(run.configuration);
    if (values === undefined || run.metrics === null) continue;
    for (const metric of CAMPAIGN_METRICS) {
      const value = metric.get(run.metrics);
      if (value !== null && Number.isFinite(value)) values.get(metric.id)!.set(run.cycle, value);
    }
  }
  return byName;
}

function perMetric<T>(fn: (metric: CampaignMetric) => T): Record<CampaignMetricId, T> {
  return Object.fromEntries(CAMPAIGN_METRICS.map((m) => [m.id, fn(m)])) as Record<CampaignMetricId, T>;
}

/** The configuration with the best mean for the metric, in the metric's direction; ties go to plan order. */
function bestOf(configurations: readonly ConfigurationSummary[], metric: CampaignMetric): string | null {
  let best: {name: string; mean: number} | null = null;
  for (const c of configurations) {
    const stats = c.metrics[metric.id];
    if (stats === null) continue;
    const better = best === null || (metric.better === 'lower' ? stats.mean < best.mean : stats.mean > best.mean);
    if (better) best = {name: c.name, mean: stats.mean};
  }
  return best?.name ?? null;
}

/** Every unordered pair (a before b in plan order) × headline metric, B − A paired by cycle. */
function compareAll(configurations: readonly string[], values: Map<string, CycleValues>): Comparison[] {
  const headline = CAMPAIGN_METRICS.filter((m) => m.headline);
  const comparisons: Comparison[] = [];
  for (let i = 0; i < configurations.length; i++) {
    for (let j = i + 1; j < configurations.length; j++) {
      const a = configurations[i]!;
      const b = configurations[j]!;
      for (const metric of headline) {
        const diff = pairedDifference(values.get(a)!.get(metric.id)!, values.get(b)!.get(metric.id)!);
        comparisons.push({a, b, metric: metric.id, diff});
      }
    }
  }
  return comparisons;
}

/**
 * The campaign's summary from its completed runs: statistics per configuration (plan order) and
 * metric, pairwise comparisons of the headline metrics, and the best configuration per metric.
 * `configurations` are the plan's names, each once.
 */
export function summarizeCampaign(configurations: readonly string[], runs: readonly CompletedRun[]): CampaignSummary {
  const values = collectValues(configurations, runs);
  const summaries = configurations.map((name) => ({
    name,
    metrics: perMetric((m) => describe([...values.get(name)!.get(m.id)!.values()])),
  }));
  return {
    configurations: summaries,
    comparisons: compareAll(configurations, values),
    best: perMetric((m) => bestOf(summaries, m)),
  };
}

const UNITS = new Map(CAMPAIGN_METRICS.map((m) => [m.id, m.unit]));

/** A CSV cell: empty for null (pandas reads NaN); numbers as String(x), the shortest text that reads back to the same double. */
const cell = (x: number | null): string => (x === null ? '' : String(x));

/** RFC 4180 through csv-stringify: LF line ends, fields quoted only when they hold a comma, a quote or a line break. */
const toCsv = (rows: string[][]): string => stringify(rows);

export const SUMMARY_CSV_HEADER = ['configuration', 'metric', 'unit', 'n', 'mean', 'std', 'cv', 'ci_low', 'ci_high', 'min', 'max'];

/** summary.csv: one row per configuration × metric; n is 0 and the rest empty where the metric is never known. */
export function summaryCsv(summary: CampaignSummary): string {
  const rows = summary.configurations.flatMap((c) =>
    CAMPAIGN_METRICS.map((m) => {
      const s = c.metrics[m.id];
      const n = String(s?.n ?? 0);
      return [c.name, m.id, m.unit, n, ...[s?.mean, s?.std, s?.cv, s?.ciLow, s?.ciHigh, s?.min, s?.max].map((x) => cell(x ?? null))];
    }),
  );
  return toCsv([SUMMARY_CSV_HEADER, ...rows]);
}

export const COMPARISONS_CSV_HEADER = ['configuration_a', 'configuration_b', 'metric', 'unit', 'n_pairs', 'mean_difference', 'ci_low', 'ci_high', 'relative_pct'];

/** comparisons.csv: one row per comparison; mean_difference is B − A; n_pairs is 0 and the rest empty without a common cycle. */
export function comparisonsCsv(summary: CampaignSummary): string {
  const rows = summary.comparisons.map(({a, b, metric, diff: d}) => [
    a,
    b,
    metric,
    UNITS.get(metric) ?? '',
    String(d?.n ?? 0),
    ...[d?.meanDiff, d?.ciLow, d?.ciHigh, d?.relativePct].map((x) => cell(x ?? null)),
  ]);
  return toCsv([COMPARISONS_CSV_HEADER, ...rows]);
}
