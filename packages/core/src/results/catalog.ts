/**
 * What the results folder holds, for `lem results list|show|export`: campaigns (`<id>/` with
 * summary.json or campaign runs inside) and single runs (`<name>-<timestamp>/` with result.json).
 */
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {configError} from '../errors.js';
import type {ExperimentResult} from './result.js';

export interface ResultEntry {
  id: string;
  kind: 'campaign' | 'run';
  path: string;
  name: string;
  status: string;
  /** Runs inside (a campaign) or 1. */
  runs: number;
  modifiedAt: string;
}

/** A JSON file, or null when it is absent or not JSON. */
export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

function entryOf(resultsDir: string, id: string): ResultEntry | null {
  const path = join(resultsDir, id);
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return null;
  }
  if (!stat.isDirectory()) return null;
  const modifiedAt = stat.mtime.toISOString();
  const run = readJson<ExperimentResult>(join(path, 'result.json'));
  if (run) return {id, kind: 'run', path, name: run.experiment.name, status: run.status, runs: 1, modifiedAt};
  const summary = readJson<{campaign: {name: string; status: string}}>(join(path, 'summary.json'));
  const runs = readdirSync(path).filter((f) => existsSync(join(path, f, 'result.json'))).length;
  if (summary) return {id, kind: 'campaign', path, name: summary.campaign.name, status: summary.campaign.status, runs, modifiedAt};
  if (runs > 0) return {id, kind: 'campaign', path, name: id.replace(/-\d{8}T\d{6}Z$/, ''), status: 'running or interrupted', runs, modifiedAt};
  return null;
}

/** Every campaign and run in `resultsDir`, newest first. */
export function listResults(resultsDir: string): ResultEntry[] {
  if (!existsSync(resultsDir)) return [];
  return readdirSync(resultsDir)
    .map((id) => entryOf(resultsDir, id))
    .filter((e): e is ResultEntry => e !== null)
    .sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt) || a.id.localeCompare(b.id));
}

/** The campaign or run `id` (a folder name in `resultsDir`, or a path to one). */
export function findResult(resultsDir: string, id: string): ResultEntry {
  const direct = existsSync(id) && statSync(id).isDirectory() ? entryOf(join(id, '..'), id.replace(/\/+$/, '').split('/').at(-1)!) : null;
  const found = direct ?? entryOf(resultsDir, id);
  if (found) return found;
  const near = listResults(resultsDir).filter((e) => e.id.startsWith(id));
  throw configError('E_RESULT_NOT_FOUND', `no campaign or run ${id} in ${resultsDir}`, near.length > 0 ? near.slice(0, 3).map((e) => `lem results show ${e.id}`) : ['lem results list']);
}
