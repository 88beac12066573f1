import {describe, expect, it} from 'vitest';
import {testPlan} from './__fixtures__/plan.js';
import {applyEvent, applyEvents, findEntry, initialManifest, interruptedRunning, progressOf} from './manifest.js';
import type {CampaignPlan, JournalEvent, JournalLine, Manifest} from './types.js';

/** A plan of `configurations` × `cycles` runs in interleaved order. */
function planOf(configurations: string[], cycles: number): CampaignPlan {
  return testPlan('test-20250101T000000Z', configurations, cycles, {seed: 1, gaps: {betweenExperimentsS: 0, betweenCyclesS: 0, cooldown: {enabled: false, deltaC: 0, timeoutS: 0}}});
}

/** Journal lines with consecutive seqs from `from`, a second apart. */
function linesOf(events: JournalEvent[], from = 1): JournalLine[] {
  return events.map((event, i) => ({...event, seq: from + i, at: new Date(Date.UTC(2025, 0, 1, 0, 0, from + i)).toISOString()}) as JournalLine);
}

const fold = (manifest: Manifest, lines: JournalLine[]) => lines.reduce(applyEvent, manifest);

const start = (key: string, attempt: number): JournalEvent => ({type: 'run-start', key, attempt, resultPath: `${key}-${attempt}`});
const end = (key: string, attempt: number, status: 'completed' | 'failed' | 'interrupted', category: 'runtime' | 'resource' | 'interrupted' | null = null): JournalEvent => ({
  type: 'run-end',
  key,
  attempt,
  status,
  category,
  code: category ? 'E_X' : null,
  message: category ? 'went wrong' : null,
  resultPath: `${key}-${attempt}`,
  durationS: 12.5,
});

describe('initialManifest', () => {
  it('has every planned run pending, in plan order', () => {
    const plan = planOf(['a', 'b'], 2);
    const manifest = initialManifest(plan);
    expect(manifest.entries.map((e) => e.key)).toEqual(['a#1', 'b#1', 'a#2', 'b#2']);
    expect(manifest.entries.every((e) => e.status === 'pending' && e.attempts === 0 && e.history.length === 0)).toBe(true);
    expect(manifest).toMatchObject({schemaVersion: 1, campaignId: plan.id, planHash: 'abc', journalSeq: 0, status: 'pending', stopReason: null, disarmed: [], adaptive: {}, envChanges: []});
  });
});

describe('applyEvent', () => {
  const plan = planOf(['a', 'b'], 2);

  it('starts and completes a run, recording the attempt', () => {
    const lines = linesOf([{type: 'campaign-start', resumed: false}, start('a#1', 1), end('a#1', 1, 'completed')]);
    const m = fold(initialManifest(plan), lines);
    const entry = findEntry(m, 'a#1')!;
    expect(entry).toMatchObject({status: 'completed', attempts: 1, resultPath: 'a#1-1', durationS: 12.5, startedAt: lines[1]!.at, endedAt: lines[2]!.at, category: null});
    expect(entry.history).toEqual([{attempt: 1, status: 'completed', category: null, code: null, message: null, resultPath: 'a#1-1', startedAt: lines[1]!.at, endedAt: lines[2]!.at}]);
    expect(m).toMatchObject({status: 'running', journalSeq: 3, updatedAt: lines[2]!.at});
  });

  it('marks a started run running with an open attempt record', () => {
    const m = fold(initialManifest(plan), linesOf([start('b#1', 1)]));
    expect(findEntry(m, 'b#1')).toMatchObject({status: 'running', history: [{attempt: 1, status: 'running', endedAt: null, resultPath: 'b#1-1'}]});
    expect(interruptedRunning(m).map((e) => e.key)).toEqual(['b#1']);
  });

  it('counts failed and completed attempts, never interruptions', () => {
    const lines = linesOf([start('a#1', 1), end('a#1', 1, 'interrupted', 'interrupted'), start('a#1', 1), end('a#1', 1, 'failed', 'resource'), start('a#1', 2)]);
    const failed = fold(initialManifest(plan), lines.slice(0, 4));
    expect(findEntry(failed, 'a#1')).toMatchObject({status: 'failed', attempts: 1, category: 'resource', code: 'E_X', message: 'went wrong'});
    const retrying = applyEvent(failed, lines[4]!);
    // A retry in progress is no failure: the last failure's fields clear (kept in history).
    expect(findEntry(retrying, 'a#1')).toMatchObject({status: 'running', attempts: 1, category: null, code: null, message: null});
    const done = applyEvent(retrying, linesOf([end('a#1', 2, 'completed')], 6)[0]!);
    const entry = findEntry(done, 'a#1')!;
    expect(entry).toMatchObject({status: 'completed', attempts: 2, category: null});
    expect(entry.history.map((h) => [h.attempt, h.status])).toEqual([
      [1, 'interrupted'],
      [1, 'failed'],
      [2, 'completed'],
    ]);
  });

  it('records a run-end without a run-start as its own attempt', () => {
    const m = fold(initialManifest(plan), linesOf([{...end('b#2', 1, 'completed'), adopted: true} as JournalEvent]));
    expect(findEntry(m, 'b#2')!.history).toHaveLength(1);
    expect(findEntry(m, 'b#2')).toMatchObject({status: 'completed', attempts: 1});
  });

  it('applies skip, threshold, adaptive, env-change, gap and campaign-end', () => {
    const adaptive = {a: {reached: true, atCycle: 2, halfWidthPct: 1.5}};
    const lines = linesOf([
      {type: 'skip', keys: ['a#2', 'b#2', 'nope#9'], reason: 'adaptive target reached'},
      {type: 'threshold', scope: 'campaign', failed: 3, finished: 4, decision: 'continue'},
      {type: 'threshold', scope: 'campaign', failed: 4, finished: 5, decision: 'continue'},
      {type: 'threshold', scope: 'cycle:2', failed: 4, finished: 5, decision: 'stop'},
      {type: 'adaptive', cycle: 2, configurations: adaptive},
      {type: 'env-change', changes: ['lemVersion 0.1.0 → 0.2.0']},
      {type: 'gap', beforeKey: 'b#1', seconds: 60},
      {type: 'campaign-end', status: 'stopped', reason: 'threshold'},
    ]);
    const m = fold(initialManifest(plan), lines);
    expect(m.entries.filter((e) => e.status === 'skipped').map((e) => [e.key, e.skippedReason])).toEqual([
      ['a#2', 'adaptive target reached'],
      ['b#2', 'adaptive target reached'],
    ]);
    expect(m.disarmed).toEqual(['campaign']);
    expect(m.adaptive).toEqual(adaptive);
    expect(m.envChanges).toEqual([{at: lines[5]!.at, changes: ['lemVersion 0.1.0 → 0.2.0']}]);
    expect(m).toMatchObject({status: 'stopped', stopReason: 'threshold', journalSeq: 8, updatedAt: lines[7]!.at});
    const restarted = applyEvent(m, linesOf([{type: 'campaign-start', resumed: true}], 9)[0]!);
    expect(restarted).toMatchObject({status: 'running', stopReason: null});
  });

  it('changes only seq and time for a key the plan lacks', () => {
    const before = initialManifest(plan);
    const after = applyEvent(before, linesOf([start('zzz#1', 1)])[0]!);
    expect(after.entries).toEqual(before.entries);
    expect(after.journalSeq).toBe(1);
  });

  it('ignores lines already applied: replay is idempotent', () => {
    const lines = linesOf([start('a#1', 1), end('a#1', 1, 'failed', 'runtime'), start('a#1', 2), end('a#1', 2, 'completed'), {type: 'threshold', scope: 'campaign', failed: 1, finished: 4, decision: 'continue'}]);
    const once = fold(initialManifest(plan), lines);
    expect(applyEvent(once, lines[2]!)).toBe(once);
    const twice = fold(once, lines);
    expect(twice).toBe(once);
    expect(applyEvents(once, lines)).toBe(once);
    expect(findEntry(twice, 'a#1')!.attempts).toBe(2);
    expect(twice.disarmed).toEqual(['campaign']);
    // A partial replay from the middle applies only the lines beyond journalSeq.
    expect(applyEvents(fold(initialManifest(plan), lines.slice(0, 2)), lines)).toEqual(once);
  });

  it('never mutates its input', () => {
    const base = fold(initialManifest(plan), linesOf([start('a#1', 1)]));
    const snapshot = structuredClone(base);
    const lines = linesOf([end('a#1', 1, 'failed', 'runtime'), {type: 'skip', keys: ['b#1'], reason: 'x'}, {type: 'threshold', scope: 'campaign', failed: 1, finished: 4, decision: 'continue'}, {type: 'env-change', changes: ['x']}], 2);
    fold(base, lines);
    applyEvents(base, lines);
    expect(base).toEqual(snapshot);
  });

  it('folds many lines at once the same as one by one', () => {
    const big = planOf(['a', 'b', 'c'], 40);
    const events = big.runs.flatMap((r, i): JournalEvent[] => [start(r.key, 1), end(r.key, 1, i % 7 === 0 ? 'failed' : 'completed', i % 7 === 0 ? 'runtime' : null)]);
    const lines = linesOf(events);
    expect(applyEvents(initialManifest(big), lines)).toEqual(fold(initialManifest(big), lines));
  });
});

describe('progressOf', () => {
  it('counts entries by status; done is completed + failed + skipped', () => {
    const plan = planOf(['a', 'b', 'c'], 2);
    const m = fold(
      initialManifest(plan),
      linesOf([{type: 'campaign-start', resumed: false}, start('a#1', 1), end('a#1', 1, 'completed'), start('b#1', 1), end('b#1', 1, 'failed', 'runtime'), start('c#1', 1), end('c#1', 1, 'interrupted', 'interrupted'), {type: 'skip', keys: ['c#2'], reason: 'x'}, start('a#2', 1)]),
    );
    const current = {key: 'a#2', configuration: 'a', cycle: 2, position: 4, attempt: 1};
    expect(progressOf(plan, m, current, 120)).toEqual({
      campaignId: plan.id,
      name: 'test',
      updatedAt: m.updatedAt,
      done: 3,
      total: 6,
      counts: {pending: 1, running: 1, completed: 1, failed: 1, interrupted: 1, skipped: 1},
      current,
      etaS: 120,
      status: 'running',
    });
    expect(progressOf(plan, initialManifest(plan))).toMatchObject({done: 0, current: null, etaS: null, status: 'pending'});
  });
});
