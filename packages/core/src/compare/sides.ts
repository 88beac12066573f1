/**
 * The two sides of `lem results compare` (DESIGN §9): what A and B name, and their figures read
 * from the runs' result.json files — the values summary.json is built from, collected by the same
 * function, so a campaign's means here are summary.json's.
 *
 * Addressing: `<campaign>` (its id in the results folder, or a path to its folder) is the whole
 * campaign; `<campaign>:<configuration>` one configuration of it; `<run>` (a run's folder name or
 * path) one run. With `campaign` given, A and B are configuration names of that campaign.
 */
import {readdirSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {configError, isCodedError} from '../errors.js';
import {readRunResult, SUMMARY_FILES} from '../campaign/results.js';
import {CAMPAIGN_METRICS, collectValues, type CampaignMetric, type CampaignMetricId, type CompletedRun, type CycleValues} from '../campaign/summary.js';
import type {RunMetrics} from '../experiment/metrics.js';
import {findResult, readJson, type ResultEntry} from '../results/catalog.js';

export interface SideConfiguration {
  /** The configuration's name; a run given on its own is named by its folder. */
  name: string;
  /** Per metric, cycle → value (a run given on its own: its campaign cycle, else 1). */
  values: CycleValues;
  /** Per metric, why runs had no value (`energy not measured: no-meter`) and how many runs each. */
  missing: Map<CampaignMetricId, Map<string, number>>;
  /** Cycles with a completed run. */
  runs: number;
}

export interface Side {
  /** A or B as given. */
  spec: string;
  kind: 'campaign' | 'configuration' | 'run';
  /** The campaign's id (its folder name), or the run's folder name. */
  id: string;
  path: string;
  /** The campaign the configurations belong to; null for a run given on its own. */
  campaignId: string | null;
  /** Plan order. */
  configurations: SideConfiguration[];
}

interface RunFigures extends CompletedRun {
  attempt: number;
  position: number;
}

/** Resolves A or B (see the module comment); unknown ids and configurations are coded errors with a Try line. */
export function resolveSide(resultsDir: string, spec: string, campaign?: string): Side {
  if (campaign !== undefined) return configurationOf(campaignOf(findResult(resultsDir, campaign), campaign), spec, spec);
  let notFound: unknown;
  try {
    const entry = findResult(resultsDir, spec);
    return entry.kind === 'run' ? runSide(spec, entry) : campaignSide(spec, entry);
  } catch (error) {
    if (!isCodedError(error) || error.code !== 'E_RESULT_NOT_FOUND') throw error;
    notFound = error;
  }
  const at = spec.lastIndexOf(':');
  if (at <= 0) throw notFound;
  const id = spec.slice(0, at);
  return configurationOf(campaignOf(findResult(resultsDir, id), id), spec.slice(at + 1), spec);
}

function campaignOf(entry: ResultEntry, spec: string): Side {
  if (entry.kind === 'campaign') return campaignSide(spec, entry);
  throw configError('E_COMPARE_NOT_A_CAMPAIGN', `${entry.id} is a single run, not a campaign: it has no configurations to choose from`, [`lem results compare ${entry.id} <other>  (the run as a whole)`]);
}

/** One configuration of a campaign side, by name; an unknown name lists the campaign's configurations. */
function configurationOf(campaign: Side, name: string, spec: string): Side {
  const found = campaign.configurations.find((c) => c.name === name);
  if (found) return {...campaign, spec, kind: 'configuration', configurations: [found]};
  const names = campaign.configurations.map((c) => c.name);
  throw configError(
    'E_COMPARE_UNKNOWN_CONFIGURATION',
    `campaign ${campaign.id} has no configuration ${JSON.stringify(name)}; its configurations: ${names.join(', ')}`,
    [`lem results compare ${campaign.id}:${names[0]} ${campaign.id}:${names[1] ?? names[0]}`],
  );
}

function runSide(spec: string, entry: ResultEntry): Side {
  const result = readRunResult(entry.path);
  const runs = result?.status === 'completed' ? [{configuration: entry.id, cycle: result.campaign?.cycle ?? 1, metrics: result.metrics}] : [];
  return {spec, kind: 'run', id: entry.id, path: entry.path, campaignId: null, configurations: sideConfigurations([entry.id], runs)};
}

function campaignSide(spec: string, entry: ResultEntry): Side {
  const runs = campaignRuns(entry.path);
  const names = planOrder(entry.path, runs);
  if (names.length === 0) throw configError('E_COMPARE_NO_RUNS', `campaign ${entry.id} has no completed run and no summary yet`, [`lem campaign status ${entry.id}`]);
  return {spec, kind: 'campaign', id: entry.id, path: entry.path, campaignId: entry.id, configurations: sideConfigurations(names, runs)};
}

/** The completed runs in a campaign folder, earlier attempts first (so a cycle keeps its last attempt). */
function campaignRuns(path: string): RunFigures[] {
  const runs: RunFigures[] = [];
  for (const dir of readdirSync(path, {withFileTypes: true})) {
    if (!dir.isDirectory()) continue;
    const result = readRunResult(join(path, dir.name));
    const c = result?.campaign;
    if (result?.status !== 'completed' || !c) continue;
    runs.push({configuration: c.configuration, cycle: c.cycle, attempt: c.attempt, position: c.position, metrics: result.metrics});
  }
  return runs.sort((x, y) => x.attempt - y.attempt);
}

/** summary.json's configurations (the plan's order, those without a completed run too), then any other run's, by position. */
function planOrder(path: string, runs: readonly RunFigures[]): string[] {
  const summary = readJson<{summary?: {configurations?: Array<{name: string}>}}>(join(path, SUMMARY_FILES.json));
  const planned = summary?.summary?.configurations?.map((c) => c.name) ?? [];
  const seen = [...runs].sort((x, y) => x.position - y.position).map((r) => r.configuration);
  return [...new Set([...planned, ...seen])];
}

function sideConfigurations(names: readonly string[], runs: readonly CompletedRun[]): SideConfiguration[] {
  const values = collectValues(names, runs);
  return names.map((name) => {
    const own = runs.filter((r) => r.configuration === name);
    return {name, values: values.get(name)!, missing: missingOf(own), runs: new Set(own.map((r) => r.cycle)).size};
  });
}

/** Why a run has no value for the metric, or null when it has one. */
export function missingReason(metric: CampaignMetric, metrics: RunMetrics | null): string | null {
  if (metrics === null) return "the run's figures could not be computed";
  const value = metric.get(metrics);
  if (value !== null && Number.isFinite(value)) return null;
  if (metric.energy && !metrics.energy.available) return `energy not measured: ${metrics.energy.reason}`;
  return 'not known in the run';
}

function missingOf(runs: readonly CompletedRun[]): SideConfiguration['missing'] {
  const missing: SideConfiguration['missing'] = new Map();
  for (const metric of CAMPAIGN_METRICS) {
    const reasons = new Map<string, number>();
    if (runs.length === 0) reasons.set('no completed run', 0);
    for (const run of runs) {
      const reason = missingReason(metric, run.metrics);
      if (reason !== null) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    missing.set(metric.id, reasons);
  }
  return missing;
}

/** Whether two sides name the same figures: the same folder and the same configurations. */
export function sameSide(a: Side, b: Side): boolean {
  const names = (s: Side) => s.configurations.map((c) => c.name).join('\u0000');
  return resolve(a.path) === resolve(b.path) && names(a) === names(b);
}
