/**
 * The manifest as a pure fold of the journal (DESIGN §7): `initialManifest(plan)` is the state
 * before any event, `applyEvent` the only way it changes. manifest.json is a cache of that fold
 * (its `journalSeq` says how far it got), so a crash between appending a journal line and
 * rewriting the manifest loses nothing: the next open applies the lines the manifest lacks.
 *
 * Functions here never mutate their arguments; a new manifest shares unchanged entries with the
 * old one. Lookups by key go through an index kept beside each entries array (positions never
 * change: entries are neither added nor removed after `initialManifest`), so one event costs an
 * O(1) lookup plus a copy of the entries array's references.
 */
import {CAMPAIGN_SCHEMA_VERSION, type AttemptRecord, type JobRecord, type CampaignPlan, type EntryStatus, type JournalLine, type Manifest, type ManifestEntry, type Progress} from './types.js';

/** key → position in `entries`, per entries array (a WeakMap: it goes when the array goes). */
const indexes = new WeakMap<readonly ManifestEntry[], Map<string, number>>();

function indexOf(entries: readonly ManifestEntry[]): Map<string, number> {
  let index = indexes.get(entries);
  if (!index) {
    index = new Map(entries.map((entry, i) => [entry.key, i]));
    indexes.set(entries, index);
  }
  return index;
}

/** The state before the first event: every planned run pending, in `plan.runs` order. */
export function initialManifest(plan: CampaignPlan): Manifest {
  return {
    schemaVersion: CAMPAIGN_SCHEMA_VERSION,
    campaignId: plan.id,
    planHash: plan.hash,
    journalSeq: 0,
    updatedAt: plan.createdAt,
    status: 'pending',
    stopReason: null,
    entries: plan.runs.map((run) => ({
      key: run.key,
      configuration: run.configuration,
      cycle: run.cycle,
      position: run.position,
      status: 'pending',
      category: null,
      code: null,
      message: null,
      attempts: 0,
      history: [],
      startedAt: null,
      endedAt: null,
      durationS: null,
      resultPath: null,
      skippedReason: null,
    })),
    disarmed: [],
    adaptive: {},
    envChanges: [],
    jobs: [],
  };
}

/** The entry of run `key` (`<configuration>#<cycle>`), or undefined when the plan has no such run. */
export function findEntry(manifest: Manifest, key: string): ManifestEntry | undefined {
  const i = indexOf(manifest.entries).get(key);
  return i === undefined ? undefined : manifest.entries[i];
}

/**
 * The manifest after journal line `line`. A line whose seq is not beyond `manifest.journalSeq` is
 * already reflected and returns the manifest unchanged, so replaying a journal is idempotent.
 * Events naming a key the plan lacks change nothing but `journalSeq`/`updatedAt`.
 */
export function applyEvent(manifest: Manifest, line: JournalLine): Manifest {
  return applyEvents(manifest, [line]);
}

/** `applyEvent` over `lines` in order, copying the manifest once (replaying a long journal stays linear). */
export function applyEvents(manifest: Manifest, lines: readonly JournalLine[]): Manifest {
  if (!lines.some((line) => line.seq > manifest.journalSeq)) return manifest;
  const draft: Manifest = {
    ...manifest,
    entries: manifest.entries.slice(),
    disarmed: [...manifest.disarmed],
    adaptive: {...manifest.adaptive},
    envChanges: [...manifest.envChanges],
    jobs: [...(manifest.jobs ?? [])],
  };
  indexes.set(draft.entries, indexOf(manifest.entries));
  for (const line of lines) {
    if (line.seq <= draft.journalSeq) continue;
    applyToDraft(draft, line);
    draft.journalSeq = line.seq;
    draft.updatedAt = line.at;
  }
  return draft;
}

/** Applies one event to `draft`, whose containers are its own; entries are replaced, never mutated. */
function applyToDraft(draft: Manifest, line: JournalLine): void {
  if ('job' in line && line.job) updateJob(draft, line.job.id, (job) => ({...job, merged: Math.max(job.merged, line.job!.line)}));
  switch (line.type) {
    case 'campaign-start':
      draft.status = 'running';
      draft.stopReason = null;
      return;
    case 'run-start':
      return updateEntry(draft, line.key, (entry) => startRun(entry, line));
    case 'run-end':
      return updateEntry(draft, line.key, (entry) => endRun(entry, line));
    case 'skip':
      for (const key of line.keys) updateEntry(draft, key, (entry) => ({...entry, status: 'skipped', skippedReason: line.reason}));
      return;
    case 'threshold':
      if (line.decision === 'continue' && !draft.disarmed.includes(line.scope)) draft.disarmed.push(line.scope);
      return;
    case 'adaptive':
      draft.adaptive = {...line.configurations};
      return;
    case 'env-change':
      draft.envChanges.push({at: line.at, changes: [...line.changes]});
      return;
    case 'campaign-end':
      draft.status = line.status;
      draft.stopReason = line.reason;
      return;
    case 'gap':
      return;
    case 'job-submit':
      draft.jobs.push({id: line.id, cycle: line.cycle, keys: [...line.keys], after: line.after ?? null, state: 'SUBMITTED', node: null, reason: null, exitCode: null, submittedAt: line.at, endedAt: null, merged: 0});
      return;
    case 'job-state':
      return updateJob(draft, line.id, (job) => ({...job, state: line.state, node: line.node ?? job.node, reason: line.reason, exitCode: line.exitCode, endedAt: line.ended ? line.at : null}));
  }
}

/** Jobs are few (one per cycle, plus retries): a scan from the newest is cheap. */
function updateJob(draft: Manifest, id: string, change: (job: JobRecord) => JobRecord): void {
  for (let i = draft.jobs.length - 1; i >= 0; i--) {
    if (draft.jobs[i]!.id !== id) continue;
    draft.jobs[i] = change(draft.jobs[i]!);
    return;
  }
}

function updateEntry(draft: Manifest, key: string, change: (entry: ManifestEntry) => ManifestEntry): void {
  const i = indexOf(draft.entries).get(key);
  if (i === undefined) return;
  draft.entries[i] = change(draft.entries[i]!);
}

/** A run starts: a new attempt record; the last failure's fields clear (they describe failed/interrupted entries only). */
function startRun(entry: ManifestEntry, line: Extract<JournalLine, {type: 'run-start'}>): ManifestEntry {
  const record: AttemptRecord = {attempt: line.attempt, status: 'running', category: null, code: null, message: null, resultPath: line.resultPath, startedAt: line.at, endedAt: null};
  return {...entry, status: 'running', category: null, code: null, message: null, startedAt: line.at, endedAt: null, durationS: null, history: [...entry.history, record]};
}

/** A run ends; only completed and failed attempts count toward `retry.max_attempts` (interruptions are not attempts). */
function endRun(entry: ManifestEntry, line: Extract<JournalLine, {type: 'run-end'}>): ManifestEntry {
  const outcome = {status: line.status, category: line.category, code: line.code, message: line.message, resultPath: line.resultPath};
  const history = [...entry.history];
  const open = findAttempt(history, line.attempt);
  if (open >= 0) history[open] = {...history[open]!, ...outcome, endedAt: line.at};
  else history.push({attempt: line.attempt, ...outcome, startedAt: entry.startedAt ?? line.at, endedAt: line.at});
  const counted = line.status === 'completed' || line.status === 'failed';
  return {...entry, ...outcome, attempts: entry.attempts + (counted ? 1 : 0), endedAt: line.at, durationS: line.durationS, history};
}

/** The record a run-end closes: the last running record of that attempt, else the last of that attempt. */
function findAttempt(history: AttemptRecord[], attempt: number): number {
  let last = -1;
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i]!.attempt !== attempt) continue;
    if (history[i]!.status === 'running') return i;
    if (last < 0) last = i;
  }
  return last;
}

export function emptyCounts(): Record<EntryStatus, number> {
  return {pending: 0, running: 0, completed: 0, failed: 0, interrupted: 0, skipped: 0};
}

/** What progress.json says: counts by status; `done` = completed + failed + skipped (runs that need nothing more). */
export function progressOf(plan: CampaignPlan, manifest: Manifest, current?: Progress['current'], etaS?: number | null): Progress {
  const counts = emptyCounts();
  for (const entry of manifest.entries) counts[entry.status]++;
  return {
    campaignId: plan.id,
    name: plan.name,
    updatedAt: manifest.updatedAt,
    done: counts.completed + counts.failed + counts.skipped,
    total: plan.runs.length,
    counts,
    current: current ?? null,
    etaS: etaS ?? null,
    status: manifest.status,
  };
}

/**
 * Entries left `running` by a lem that was killed: no run-end was journaled. On resume they are
 * treated as interrupted (their result folder may still hold a complete result to adopt).
 */
export function interruptedRunning(manifest: Manifest): ManifestEntry[] {
  return manifest.entries.filter((entry) => entry.status === 'running');
}
