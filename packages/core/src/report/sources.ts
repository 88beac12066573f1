/**
 * The report's inputs: each id or folder resolved as `lem results show` resolves it (catalog.ts),
 * a campaign with its summary.json (when written) and its run folders, or one run's folder.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {configError} from '../errors.js';
import {SUMMARY_FILES, type CampaignReport} from '../campaign/results.js';
import {findResult, type ResultEntry} from '../results/catalog.js';
import type {ReportSource} from './model.js';

/** summary.json as writeCampaignReport writes it. */
export type SummaryFile = CampaignReport & {schemaVersion: number};

export interface LoadedSource {
  source: ReportSource;
  summary: SummaryFile | null;
  runDirs: string[];
}

/** Each input once (by folder), resolved against the results folder; an unknown one is E_RESULT_NOT_FOUND with its Try line. */
export function resolveInputs(inputs: readonly string[], resultsDir: string): ResultEntry[] {
  if (inputs.length === 0) throw configError('E_REPORT_NO_INPUT', 'lem report needs a campaign id or a results folder', ['lem results list', 'lem report <campaign-id>']);
  const byFolder = new Map<string, ResultEntry>();
  for (const input of inputs) {
    const entry = findResult(resultsDir, input);
    if (!byFolder.has(resolve(entry.path))) byFolder.set(resolve(entry.path), entry);
  }
  return [...byFolder.values()];
}

function readSummary(dir: string): SummaryFile | null {
  const path = join(dir, SUMMARY_FILES.json);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SummaryFile;
  } catch (error) {
    throw configError('E_RESULT_INVALID', `${path} is not valid JSON: ${(error as Error).message}`, [`lem resume ${dir.split('/').at(-1) ?? ''} rewrites it when the campaign's runs are intact`]);
  }
}

export function loadSource(entry: ResultEntry): LoadedSource {
  if (entry.kind === 'run') {
    const source: ReportSource = {kind: 'run', id: entry.id, path: entry.path, name: entry.name, planHash: null, status: entry.status, stopReason: null, counts: null, best: null, hasSummary: false};
    return {source, summary: null, runDirs: [entry.path]};
  }
  const summary = readSummary(entry.path);
  const runDirs = readdirSync(entry.path)
    .filter((d) => existsSync(join(entry.path, d, 'result.json')))
    .sort()
    .map((d) => join(entry.path, d));
  const c = summary?.campaign;
  const source: ReportSource = {
    kind: 'campaign', id: entry.id, path: entry.path, name: c?.name ?? entry.name,
    planHash: c?.planHash ?? null, status: c?.status ?? entry.status, stopReason: c?.stopReason ?? null, counts: summary?.counts ?? null, best: summary?.summary.best ?? null, hasSummary: summary !== null,
  };
  return {source, summary, runDirs};
}
