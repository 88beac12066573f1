import {describe, expect, it} from 'vitest';
import {testPlan} from '../campaign/__fixtures__/plan.js';
import {applyEvent, applyEvents, findEntry, initialManifest} from '../campaign/manifest.js';
import type {JournalEvent, JournalLine, Manifest} from '../campaign/types.js';

const plan = testPlan('mj-20250101T000000Z', ['a', 'b'], 2, {executor: 'slurm'});

/** Journal lines with consecutive seqs from `from`, a second apart. */
function linesOf(events: JournalEvent[], from = 1): JournalLine[] {
  return events.map((event, i) => ({...event, seq: from + i, at: new Date(Date.UTC(2025, 0, 1, 0, 0, from + i)).toISOString()}) as JournalLine);
}

const fold = (manifest: Manifest, lines: JournalLine[]) => lines.reduce(applyEvent, manifest);

const submit = (id: string, cycle: number, keys: string[], after?: string | null): JournalEvent => ({type: 'job-submit', id, cycle, keys, ...(after === undefined ? {} : {after})});
const state = (id: string, s: string, over: Partial<Extract<JournalEvent, {type: 'job-state'}>> = {}): JournalEvent => ({type: 'job-state', id, state: s, node: null, reason: null, exitCode: null, ended: false, ...over});
const start = (key: string, job?: {id: string; line: number}): JournalEvent => ({type: 'run-start', key, attempt: 1, resultPath: `${key}-1`, ...(job ? {job} : {})});
const end = (key: string, job?: {id: string; line: number}): JournalEvent => ({
  type: 'run-end',
  key,
  attempt: 1,
  status: 'completed',
  category: null,
  code: null,
  message: null,
  resultPath: `${key}-1`,
  durationS: 3,
  ...(job ? {job} : {}),
});

describe('the manifest fold of Slurm jobs', () => {
  it('starts with no jobs', () => {
    expect(initialManifest(plan).jobs).toEqual([]);
  });

  it('adds a submitted job: SUBMITTED, nothing merged, after null unless given', () => {
    const lines = linesOf([submit('101', 1, ['a#1', 'b#1']), submit('102', 2, ['a#2', 'b#2'], '101')]);
    const m = fold(initialManifest(plan), lines);
    expect(m.jobs).toEqual([
      {id: '101', cycle: 1, keys: ['a#1', 'b#1'], after: null, state: 'SUBMITTED', node: null, reason: null, exitCode: null, submittedAt: lines[0]!.at, endedAt: null, merged: 0},
      {id: '102', cycle: 2, keys: ['a#2', 'b#2'], after: '101', state: 'SUBMITTED', node: null, reason: null, exitCode: null, submittedAt: lines[1]!.at, endedAt: null, merged: 0},
    ]);
    expect(m.journalSeq).toBe(2);
  });

  it("does not share the event's keys array", () => {
    const [line] = linesOf([submit('101', 1, ['a#1'])]);
    const m = applyEvent(initialManifest(plan), line!);
    (line as Extract<JournalLine, {type: 'job-submit'}>).keys.push('b#1');
    expect(m.jobs[0]!.keys).toEqual(['a#1']);
  });

  it('records each look at the job: state, node, reason and exit code', () => {
    const lines = linesOf([
      submit('101', 1, ['a#1']),
      state('101', 'PENDING', {reason: 'Resources'}),
      state('101', 'RUNNING', {node: 'gpu07'}),
    ]);
    const m = fold(initialManifest(plan), lines);
    expect(m.jobs[0]).toMatchObject({state: 'RUNNING', node: 'gpu07', reason: null, exitCode: null, endedAt: null});
    const pending = fold(initialManifest(plan), lines.slice(0, 2));
    expect(pending.jobs[0]).toMatchObject({state: 'PENDING', node: null, reason: 'Resources', endedAt: null});
  });

  it('keeps the node a later look does not name', () => {
    const m = fold(initialManifest(plan), linesOf([submit('101', 1, ['a#1']), state('101', 'RUNNING', {node: 'gpu07'}), state('101', 'COMPLETING', {node: null})]));
    expect(m.jobs[0]).toMatchObject({state: 'COMPLETING', node: 'gpu07'});
  });

  it('sets endedAt only when the job-state says ended', () => {
    const lines = linesOf([
      submit('101', 1, ['a#1']),
      state('101', 'RUNNING', {node: 'gpu07'}),
      state('101', 'FAILED', {exitCode: 78, reason: 'NonZeroExitCode'}),
      state('101', 'FAILED', {exitCode: 78, reason: 'NonZeroExitCode', ended: true}),
    ]);
    const beforeEnd = fold(initialManifest(plan), lines.slice(0, 3));
    expect(beforeEnd.jobs[0]).toMatchObject({state: 'FAILED', exitCode: 78, endedAt: null});
    const ended = fold(initialManifest(plan), lines);
    expect(ended.jobs[0]).toMatchObject({state: 'FAILED', node: 'gpu07', reason: 'NonZeroExitCode', exitCode: 78, endedAt: lines[3]!.at});
  });

  it('changes only the job it names', () => {
    const m = fold(initialManifest(plan), linesOf([submit('101', 1, ['a#1']), submit('102', 2, ['a#2']), state('102', 'RUNNING', {node: 'n2'}), state('999', 'RUNNING')]));
    expect(m.jobs.map((j) => [j.id, j.state, j.node])).toEqual([
      ['101', 'SUBMITTED', null],
      ['102', 'RUNNING', 'n2'],
    ]);
    expect(m.journalSeq).toBe(4);
  });

  it("raises the job's merged count to the line a merged run event came from, never lowers it", () => {
    const base = fold(initialManifest(plan), linesOf([submit('101', 1, ['a#1', 'b#1']), submit('102', 2, ['a#2'])]));
    const m1 = fold(base, linesOf([start('a#1', {id: '101', line: 1}), end('a#1', {id: '101', line: 3})], 3));
    expect(m1.jobs.map((j) => j.merged)).toEqual([3, 0]);
    expect(findEntry(m1, 'a#1')).toMatchObject({status: 'completed', attempts: 1});
    const m2 = applyEvent(m1, linesOf([start('b#1', {id: '101', line: 2})], 5)[0]!);
    expect(m2.jobs[0]!.merged).toBe(3);
    expect(findEntry(m2, 'b#1')!.status).toBe('running');
  });

  it('counts a merged gap as merged too', () => {
    const base = fold(initialManifest(plan), linesOf([submit('101', 1, ['a#1'])]));
    const m = applyEvent(base, linesOf([{type: 'gap', beforeKey: 'a#1', seconds: 30, job: {id: '101', line: 1}}], 2)[0]!);
    expect(m.jobs[0]!.merged).toBe(1);
  });

  it('leaves merged alone for run events not from a job', () => {
    const base = fold(initialManifest(plan), linesOf([submit('101', 1, ['a#1'])]));
    const m = fold(base, linesOf([start('a#1'), end('a#1')], 2));
    expect(m.jobs[0]!.merged).toBe(0);
    expect(findEntry(m, 'a#1')!.status).toBe('completed');
  });

  it('is idempotent: lines at or below journalSeq change nothing', () => {
    const lines = linesOf([submit('101', 1, ['a#1', 'b#1']), state('101', 'RUNNING', {node: 'gpu07'}), start('a#1', {id: '101', line: 1}), end('a#1', {id: '101', line: 2}), state('101', 'COMPLETED', {exitCode: 0, ended: true})]);
    const once = applyEvents(initialManifest(plan), lines);
    expect(once.journalSeq).toBe(5);
    expect(once.jobs).toHaveLength(1);
    expect(applyEvents(once, lines)).toBe(once);
    expect(applyEvents(once, lines.slice(0, 2))).toBe(once);
    const twice = fold(once, lines);
    expect(twice).toBe(once);
    expect(twice.jobs).toEqual([expect.objectContaining({id: '101', state: 'COMPLETED', merged: 2, endedAt: lines[4]!.at})]);
    expect(findEntry(twice, 'a#1')!.attempts).toBe(1);
  });

  it('applies only the lines beyond journalSeq when a replay overlaps', () => {
    const lines = linesOf([submit('101', 1, ['a#1']), state('101', 'RUNNING', {node: 'n1'}), state('101', 'COMPLETED', {exitCode: 0, ended: true})]);
    const partial = applyEvents(initialManifest(plan), lines.slice(0, 2));
    const m = applyEvents(partial, lines);
    expect(m.jobs).toHaveLength(1);
    expect(m.jobs[0]).toMatchObject({state: 'COMPLETED', endedAt: lines[2]!.at});
    expect(applyEvents(initialManifest(plan), lines)).toEqual(m);
  });

  it('never mutates the manifest it folds onto', () => {
    const base = fold(initialManifest(plan), linesOf([submit('101', 1, ['a#1'])]));
    const snapshot = structuredClone(base);
    fold(base, linesOf([state('101', 'RUNNING', {node: 'n1'}), start('a#1', {id: '101', line: 1}), submit('102', 2, ['a#2'])], 2));
    expect(base).toEqual(snapshot);
  });

  it('reads a manifest written before jobs existed (no jobs field)', () => {
    const old = {...initialManifest(plan)} as Partial<Manifest>;
    delete old.jobs;
    const m = fold(old as Manifest, linesOf([submit('101', 1, ['a#1'])]));
    expect(m.jobs.map((j) => j.id)).toEqual(['101']);
  });
});
