/**
 * results/<id>/: every run's folder, and the campaign's summary.json, summary.csv and
 * comparisons.csv, built from the completed runs' result.json files alone (so they can be
 * rebuilt at any time, e.g. after a resume).
 */
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {writeFileAtomic} from '../fs-atomic.js';
import type {ExperimentResult} from '../results/result.js';
import {CAMPAIGN_METRICS, comparisonsCsv, summarizeCampaign, summaryCsv, type CampaignSummary, type CompletedRun} from './summary.js';
import type {CampaignPlan, Manifest, ManifestEntry} from './types.js';

export const SUMMARY_FILES = {json: 'summary.json', csv: 'summary.csv', comparisons: 'comparisons.csv'} as const;

/** A run's result.json, or null when it is absent or not a complete result (a kill before it was written). */
export function readRunResult(runDir: string): ExperimentResult | null {
  const path = join(runDir, 'result.json');
  if (!existsSync(path)) return null;
  try {
    const result = JSON.parse(readFileSync(path, 'utf8')) as ExperimentResult;
    return typeof result.schemaVersion === 'number' && (result.status === 'completed' || result.status === 'failed') ? result : null;
  } catch {
    return null;
  }
}

export interface CampaignReport {
  campaign: {id: string; name: string; planHash: string; status: Manifest['status']; stopReason: string | null};
  counts: Record<string, number>;
  totalEnergyJ: number | null;
  /** Sum of the runs' durations, and wall-clock from the first start to the last end. */
  runTimeS: number;
  wallTimeS: number | null;
  summary: CampaignSummary;
  failures: Array<{key: string; configuration: string; cycle: number; category: string | null; code: string | null; message: string | null; runDir: string | null; serverLog: string | null}>;
  adaptive: Manifest['adaptive'];
  envChanges: Manifest['envChanges'];
}

/** Builds the report from the plan, the manifest and the completed runs' results. */
export function campaignReport(plan: CampaignPlan, manifest: Manifest): CampaignReport {
  const completed: CompletedRun[] = [];
  let energy = 0;
  let energyKnown = false;
  for (const e of manifest.entries) {
    if (e.status !== 'completed' || !e.resultPath) continue;
    const result = readRunResult(join(plan.resultsDir, e.resultPath));
    completed.push({configuration: e.configuration, cycle: e.cycle, metrics: result?.metrics ?? null});
    const j = result?.metrics?.energy.energyJ;
    if (typeof j === 'number') [energy, energyKnown] = [energy + j, true];
  }
  const counts: Record<string, number> = {};
  for (const e of manifest.entries) counts[e.status] = (counts[e.status] ?? 0) + 1;
  return {
    campaign: {id: plan.id, name: plan.name, planHash: plan.hash, status: manifest.status, stopReason: manifest.stopReason},
    counts,
    totalEnergyJ: energyKnown ? energy : null,
    runTimeS: manifest.entries.reduce((s, e) => s + (e.durationS ?? 0), 0),
    wallTimeS: wallTime(manifest.entries),
    summary: summarizeCampaign(plan.configurations.map((c) => c.name), completed),
    failures: manifest.entries.filter((e) => e.status === 'failed').map((e) => failureOf(plan, e)),
    adaptive: manifest.adaptive,
    envChanges: manifest.envChanges,
  };
}

function failureOf(plan: CampaignPlan, e: ManifestEntry): CampaignReport['failures'][number] {
  const runDir = e.resultPath ? join(plan.resultsDir, e.resultPath) : null;
  const log = runDir ? join(runDir, SERVER_LOG) : null;
  return {key: e.key, configuration: e.configuration, cycle: e.cycle, category: e.category, code: e.code, message: e.message, runDir, serverLog: log && existsSync(log) ? log : null};
}

function wallTime(entries: ManifestEntry[]): number | null {
  const starts = entries.map((e) => e.history[0]?.startedAt).filter((s): s is string => Boolean(s)).map(Date.parse);
  const ends = entries.map((e) => e.endedAt).filter((s): s is string => Boolean(s)).map(Date.parse);
  if (starts.length === 0 || ends.length === 0) return null;
  return (Math.max(...ends) - Math.min(...starts)) / 1000;
}

/** Writes summary.json, summary.csv and comparisons.csv into the campaign's results folder. */
export function writeCampaignReport(plan: CampaignPlan, report: CampaignReport): string {
  writeFileAtomic(join(plan.resultsDir, SUMMARY_FILES.json), `${JSON.stringify({schemaVersion: 1, metrics: CAMPAIGN_METRICS.map(({get: _get, ...m}) => m), ...report}, null, 2)}\n`);
  writeFileAtomic(join(plan.resultsDir, SUMMARY_FILES.csv), summaryCsv(report.summary));
  writeFileAtomic(join(plan.resultsDir, SUMMARY_FILES.comparisons), comparisonsCsv(report.summary));
  return join(plan.resultsDir, SUMMARY_FILES.json);
}

/** The server's last output lines, kept beside a failed run's result. */
export const SERVER_LOG = 'server-tail.log';
