import {appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {testPlan} from '../campaign/__fixtures__/plan.js';
import {findEntry, initialManifest} from '../campaign/manifest.js';
import type {CampaignPlan, JournalEvent, Manifest} from '../campaign/types.js';
import {JobStore, readJobJournal} from './job-store.js';

let dir: string;
const stores: JobStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lem-slurm-job-store-'));
});
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  rmSync(dir, {recursive: true, force: true});
});

const plan: CampaignPlan = testPlan('js-20250101T000000Z', ['a', 'b'], 1);

/** The campaign's manifest when the job started: 7 lines of the campaign's journal already folded. */
function campaignManifest(): Manifest {
  return {...initialManifest(plan), journalSeq: 7, status: 'running'};
}

const journal = () => join(dir, '4242.jsonl');
const logFile = () => join(dir, '4242.log');

function open(manifest = campaignManifest()): JobStore {
  const store = new JobStore(dir, plan, manifest, journal(), logFile());
  stores.push(store);
  return store;
}

const start = (key: string): JournalEvent => ({type: 'run-start', key, attempt: 1, resultPath: `${key}-1`});
const end = (key: string): JournalEvent => ({type: 'run-end', key, attempt: 1, status: 'completed', category: null, code: null, message: null, resultPath: `${key}-1`, durationS: 4.5});

const fileLines = () => readFileSync(journal(), 'utf8').split('\n');

describe('JobStore', () => {
  it('creates its journal on open, before any event', () => {
    open();
    expect(existsSync(journal())).toBe(true);
    expect(readFileSync(journal(), 'utf8')).toBe('');
  });

  it('appends one JSON line per event, numbered by the job from 1', () => {
    const store = open();
    const first = store.record(start('a#1'));
    const second = store.record(end('a#1'));
    expect([first.seq, second.seq]).toEqual([1, 2]);
    const lines = fileLines();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual(first);
    expect(JSON.parse(lines[1]!)).toEqual(second);
    expect(first).toMatchObject({type: 'run-start', key: 'a#1', attempt: 1, resultPath: 'a#1-1', seq: 1});
    expect(Number.isNaN(Date.parse(first.at))).toBe(false);
  });

  it("folds each event into the campaign's manifest, its seqs after the campaign's", () => {
    const store = open();
    const before = store.manifest;
    store.record(start('a#1'));
    expect(findEntry(store.manifest, 'a#1')).toMatchObject({status: 'running', attempts: 0});
    store.record(end('a#1'));
    expect(findEntry(store.manifest, 'a#1')).toMatchObject({status: 'completed', attempts: 1, resultPath: 'a#1-1', durationS: 4.5});
    expect(findEntry(store.manifest, 'b#1')).toMatchObject({status: 'pending', attempts: 0});
    expect(store.manifest.journalSeq).toBe(9);
    // The manifest it started from is not changed.
    expect(findEntry(before, 'a#1')!.status).toBe('pending');
    expect(before.journalSeq).toBe(7);
  });

  it('never takes or needs the campaign lock', () => {
    const store = open();
    expect(store.locked).toBe(true);
    expect(store.lock()).toEqual({tookOver: false, from: null});
  });

  it('refuses to record once closed', () => {
    const store = open();
    store.close();
    expect(() => store.record(start('a#1'))).toThrow(/closed/);
    store.close(); // idempotent
    expect(readFileSync(journal(), 'utf8')).toBe('');
  });

  it('writes log lines with their level beside the journal', () => {
    const store = open();
    store.log('warn', 'a warning');
    expect(readFileSync(logFile(), 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT\S+ WARN a warning\n$/);
  });

  // A job Slurm starts again under the same id (a requeue, which jobs ask Slurm not to do, but a
  // site may force) opens the same jobs/<id>.jsonl: it numbers on, so seq stays the line number the
  // orchestrator's merge counts by and no merged line is handed back again.
  it("numbers on from a journal's existing lines (a requeued job), so seq stays the line number", () => {
    const first = open();
    first.record(start('a#1'));
    first.record(end('a#1'));
    first.close();
    const second = open();
    expect(second.record(start('b#1')).seq).toBe(3);
    expect(readJobJournal(journal(), 0).map((l) => l.seq)).toEqual([1, 2, 3]);
  });

  // The same after a kill that tore the last line: the next incarnation starts on a line of its own,
  // and the torn line is skipped, not the end of what is read.
  it('starts on a new line after a torn last line left by a killed job', () => {
    const first = open();
    first.record(start('a#1'));
    first.close();
    appendFileSync(journal(), '{"type":"run-end","key":"a#1"');
    const second = open();
    second.record(start('b#1'));
    expect(readJobJournal(journal(), 0).map((l) => l.type === 'run-start' && l.key)).toEqual(['a#1', 'b#1']);
  });
});

describe('readJobJournal', () => {
  function twoLines(): void {
    const store = open();
    store.record(start('a#1'));
    store.record(end('a#1'));
  }

  it('returns every complete line from 0', () => {
    twoLines();
    const lines = readJobJournal(journal(), 0);
    expect(lines.map((l) => [l.seq, l.type])).toEqual([
      [1, 'run-start'],
      [2, 'run-end'],
    ]);
  });

  it('skips the lines already merged', () => {
    twoLines();
    expect(readJobJournal(journal(), 1).map((l) => [l.seq, l.type])).toEqual([[2, 'run-end']]);
    expect(readJobJournal(journal(), 2)).toEqual([]);
  });

  it('leaves a torn last line (no newline yet) for later', () => {
    twoLines();
    appendFileSync(journal(), '{"type":"run-start","key":"b#1","attempt":1,"resultPath":"b#1-1","seq":3,"at":"2025');
    expect(readJobJournal(journal(), 0).map((l) => l.seq)).toEqual([1, 2]);
    expect(readJobJournal(journal(), 2)).toEqual([]);
  });

  it('returns the line once its newline is written', () => {
    twoLines();
    const third = {type: 'run-start', key: 'b#1', attempt: 1, resultPath: 'b#1-1', seq: 3, at: '2025-01-01T00:00:03.000Z'};
    const text = JSON.stringify(third);
    appendFileSync(journal(), text.slice(0, 20));
    expect(readJobJournal(journal(), 2)).toEqual([]);
    appendFileSync(journal(), `${text.slice(20)}\n`);
    expect(readJobJournal(journal(), 2)).toEqual([third]);
  });

  it('skips a complete line that does not parse (torn by a kill, ended by the next incarnation), keeping the lines after it', () => {
    writeFileSync(journal(), `${JSON.stringify({type: 'gap', beforeKey: 'a#1', seconds: 1, seq: 1, at: 'x'})}\nnot json\n${JSON.stringify({type: 'gap', beforeKey: 'b#1', seconds: 1, seq: 3, at: 'x'})}\n`);
    expect(readJobJournal(journal(), 0).map((l) => l.seq)).toEqual([1, 3]);
    expect(readJobJournal(journal(), 2).map((l) => l.seq)).toEqual([3]);
  });

  it('returns nothing for a job that has not written its journal yet', () => {
    expect(readJobJournal(join(dir, 'missing.jsonl'), 0)).toEqual([]);
  });
});
