import {spawn, type ChildProcess} from 'node:child_process';
import {appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs';
import {hostname, tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {processStartTime, waitFor} from '../runner/proc.js';
import {testPlan} from './__fixtures__/plan.js';
import {applyEvents, findEntry, initialManifest, progressOf} from './manifest.js';
import {CAMPAIGN_FILES, createCampaignState, listCampaigns, openCampaignState, type CampaignStore} from './store.js';
import type {CampaignPlan, JournalEvent, JournalLine, Manifest} from './types.js';
import {codedErrorOf} from '../__fixtures__/coded-error.js';

const STORE = new URL('./store.ts', import.meta.url).href;
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

let root: string;
let stateRoot: string;
const stores: CampaignStore[] = [];
const children: ChildProcess[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lem-campaign-state-'));
  stateRoot = join(root, '.lem-state');
});
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(root, {recursive: true, force: true});
});

/** A plan of `count` configurations × `cycles` runs. */
function planOf(id: string, count: number, cycles = 1): CampaignPlan {
  return testPlan(id, Array.from({length: count}, (_, c) => `conf${c}`), cycles, {hash: `hash-${id}`});
}

const track = (store: CampaignStore) => (stores.push(store), store);
const create = (plan: CampaignPlan) => track(createCampaignState(stateRoot, plan));
const open = (id: string) => track(openCampaignState(stateRoot, id));
const dirOf = (id: string) => join(stateRoot, id);
const journalOf = (id: string) => readFileSync(join(dirOf(id), CAMPAIGN_FILES.journal), 'utf8');
const start = (key: string, attempt = 1): JournalEvent => ({type: 'run-start', key, attempt, resultPath: `${key}/${attempt}`});
const end = (key: string, status: 'completed' | 'failed' | 'interrupted' = 'completed', attempt = 1): JournalEvent => ({
  type: 'run-end',
  key,
  attempt,
  status,
  category: status === 'completed' ? null : status === 'failed' ? 'runtime' : 'interrupted',
  code: null,
  message: null,
  resultPath: `${key}/${attempt}`,
  durationS: 3,
});

function sleeper(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(()=>{},1e6)'], {stdio: 'ignore'});
  children.push(child);
  return child;
}

/** Runs `body` (TypeScript, with openCampaignState imported) in a real child node process. */
function runChild(body: string, env: Record<string, string>): Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}> {
  const script = join(root, `child-${children.length}.ts`);
  writeFileSync(script, `import {openCampaignState} from ${JSON.stringify(STORE)};\n${body}\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], {cwd: REPO_ROOT, env: {...process.env, ...env}, stdio: ['ignore', 'ignore', 'pipe']});
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({code, signal, stderr})));
}

describe('createCampaignState', () => {
  it('writes the plan, an empty journal, the initial manifest and progress, and holds the lock', () => {
    const plan = planOf('bench-20250101T000000Z', 3);
    const store = create(plan);
    const dir = dirOf(plan.id);
    expect(store.dir).toBe(dir);
    expect(store.locked).toBe(true);
    expect(readFileSync(join(dir, 'plan.json'), 'utf8')).toBe(`${JSON.stringify(plan, null, 2)}\n`);
    const manifestText = readFileSync(join(dir, 'manifest.json'), 'utf8');
    expect(manifestText.trimEnd().split('\n')).toHaveLength(1); // compact: rewritten after every event
    expect(JSON.parse(manifestText)).toEqual(initialManifest(plan));
    expect(journalOf(plan.id)).toBe('');
    expect(JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8'))).toEqual(progressOf(plan, initialManifest(plan)));
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({pid: process.pid, startTime: processStartTime(process.pid), hostname: hostname()});
  });

  it('refuses to overwrite an existing campaign', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    const error = codedErrorOf(() => create(plan));
    expect(error).toMatchObject({code: 'E_CAMPAIGN_EXISTS', exitCode: 2});
    expect(error.try.join(' ')).toContain(`lem resume ${plan.id}`);
    expect(existsSync(join(dirOf(plan.id), 'lock'))).toBe(false);
  });
});

describe('record', () => {
  it('appends one line per event with consecutive seqs and keeps manifest.json in step', () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    let tick = Date.UTC(2025, 0, 2);
    const store = track(createCampaignState(stateRoot, plan, {now: () => new Date((tick += 1000))}));
    const a = store.record({type: 'campaign-start', resumed: false});
    const b = store.record(start('conf0#1'));
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(Date.parse(b.at) - Date.parse(a.at)).toBe(1000); // from the injected clock
    expect(journalOf(plan.id).split('\n')).toEqual([JSON.stringify(a), JSON.stringify(b), '']);
    const stored = JSON.parse(readFileSync(join(dirOf(plan.id), 'manifest.json'), 'utf8')) as Manifest;
    expect(stored).toEqual(store.manifest);
    expect(stored.journalSeq).toBe(2);
    expect(findEntry(store.manifest, 'conf0#1')!.status).toBe('running');
  });

  it('appends to the journal across reopenings (never truncates it)', () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    const first = create(plan);
    first.record(start('conf0#1'));
    first.record(end('conf0#1'));
    first.close();
    const second = open(plan.id);
    expect(second.locked).toBe(false);
    second.lock();
    const line = second.record(start('conf1#1'));
    expect(line.seq).toBe(3);
    expect(journalOf(plan.id).trimEnd().split('\n').map((l) => (JSON.parse(l) as JournalLine).seq)).toEqual([1, 2, 3]);
    second.close();
    expect(findEntry(open(plan.id).manifest, 'conf0#1')).toMatchObject({status: 'completed', attempts: 1});
  });

  it('needs the lock for writing', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    const store = open(plan.id);
    expect(() => store.record(start('conf0#1'))).toThrow(/needs the lock/);
    expect(() => store.writeProgress(progressOf(plan, store.manifest))).toThrow(/needs the lock/);
    expect(journalOf(plan.id)).toBe('');
  });

  it('writes progress atomically and logs every level with a timestamp', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    const store = create(plan);
    store.record(start('conf0#1'));
    const progress = progressOf(plan, store.manifest, {key: 'conf0#1', configuration: 'conf0', cycle: 1, position: 1, attempt: 1}, 30);
    store.writeProgress(progress);
    expect(JSON.parse(readFileSync(join(store.dir, 'progress.json'), 'utf8'))).toEqual(progress);
    store.log('debug', 'details');
    store.log('error', 'two\nlines');
    store.close();
    const log = readFileSync(join(store.dir, 'campaign.log'), 'utf8');
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z DEBUG details\n\S+ ERROR two\n {4}lines\n$/);
    expect(readdirSync(store.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('openCampaignState', () => {
  it('says clearly when there is no such campaign', () => {
    mkdirSync(stateRoot, {recursive: true});
    for (const id of ['nope-20250101T000000Z', '../etc', '']) {
      const error = codedErrorOf(() => openCampaignState(stateRoot, id));
      expect(error).toMatchObject({code: 'E_CAMPAIGN_NOT_FOUND', exitCode: 2});
      expect(error.try.length).toBeGreaterThan(0);
    }
  });

  it('refuses damaged state files with E_CAMPAIGN_STATE_CORRUPT naming the file', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    const manifestPath = join(dirOf(plan.id), 'manifest.json');
    const good = readFileSync(manifestPath, 'utf8');
    const cases: Array<[string, string, RegExp]> = [
      [manifestPath, '{"schemaVersion": 1, "entr', /manifest\.json is not valid JSON/],
      [manifestPath, good.replace('"schemaVersion":1', '"schemaVersion":99'), /newer lem/],
      [manifestPath, good.replace(`"planHash":"${plan.hash}"`, '"planHash":"other"'), /another plan/],
      [join(dirOf(plan.id), 'plan.json'), '[]', /plan\.json is not a campaign plan/],
    ];
    for (const [path, text, message] of cases) {
      const saved = readFileSync(path, 'utf8');
      writeFileSync(path, text);
      const error = codedErrorOf(() => openCampaignState(stateRoot, plan.id));
      expect(error).toMatchObject({code: 'E_CAMPAIGN_STATE_CORRUPT', exitCode: 2});
      expect(error.message).toMatch(message);
      expect(error.try.length).toBeGreaterThan(0);
      writeFileSync(path, saved);
    }
  });

  it('applies journal lines the manifest lacks, once', () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    const store = create(plan);
    const early = store.manifest;
    store.record(start('conf0#1'));
    store.record(end('conf0#1', 'failed'));
    store.record(start('conf0#1', 2));
    store.record(end('conf0#1', 'completed', 2));
    const latest = store.manifest;
    store.close();
    // A manifest.json left behind by a kill (older than the journal) catches up on open.
    writeFileSync(join(dirOf(plan.id), 'manifest.json'), JSON.stringify(early));
    const reopened = open(plan.id);
    expect(reopened.manifest).toEqual(latest);
    expect(findEntry(reopened.manifest, 'conf0#1')).toMatchObject({attempts: 2, status: 'completed'});
    reopened.close();
    // Replaying onto an up-to-date manifest changes nothing.
    for (let i = 0; i < 3; i++) {
      const again = open(plan.id);
      expect(again.manifest).toEqual(latest);
      again.close();
    }
  });

  it('rebuilds a missing manifest from the plan and the journal', () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    const store = create(plan);
    store.record(start('conf1#1'));
    const latest = store.manifest;
    store.close();
    rmSync(join(dirOf(plan.id), 'manifest.json'));
    expect(open(plan.id).manifest).toEqual(latest);
    expect(JSON.parse(readFileSync(join(dirOf(plan.id), 'manifest.json'), 'utf8'))).toEqual(latest);
  });

  it('drops a torn last journal line and truncates the file to the last good line', () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    const store = create(plan);
    store.record(start('conf0#1'));
    store.record(end('conf0#1'));
    const latest = store.manifest;
    store.close();
    const journal = join(dirOf(plan.id), 'journal.jsonl');
    const good = readFileSync(journal, 'utf8');
    appendFileSync(journal, '{"type":"run-start","key":"conf1#1","attem');
    const reopened = open(plan.id);
    expect(reopened.manifest).toEqual(latest);
    expect(readFileSync(journal, 'utf8')).toBe(good);
    expect(reopened.repaired.join('\n')).toMatch(/torn last line of journal\.jsonl \(line 3/);
    reopened.lock();
    expect(reopened.record(start('conf1#1')).seq).toBe(3);
    reopened.close();
    expect(findEntry(open(plan.id).manifest, 'conf1#1')!.status).toBe('running');
  });

  it('ends a last line that lacks its newline before appending', () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    const store = create(plan);
    store.record(start('conf0#1'));
    store.close();
    const journal = join(dirOf(plan.id), 'journal.jsonl');
    writeFileSync(journal, readFileSync(journal, 'utf8').trimEnd());
    const reopened = open(plan.id);
    reopened.lock();
    reopened.record(end('conf0#1'));
    expect(journalOf(plan.id).trimEnd().split('\n').map((l) => (JSON.parse(l) as JournalLine).seq)).toEqual([1, 2]);
  });

  it('refuses an unparsable line in the middle of the journal, naming file:line', () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    const store = create(plan);
    store.record(start('conf0#1'));
    store.record(end('conf0#1'));
    store.close();
    const journal = join(dirOf(plan.id), 'journal.jsonl');
    const [first, second] = readFileSync(journal, 'utf8').trimEnd().split('\n');
    writeFileSync(journal, `${first}\nnot json\n${second}\n`);
    const error = codedErrorOf(() => openCampaignState(stateRoot, plan.id));
    expect(error).toMatchObject({code: 'E_CAMPAIGN_STATE_CORRUPT', exitCode: 2});
    expect(error.message).toContain(`${journal}:2`);
    expect(error.details?.[0]?.location).toEqual({file: journal, line: 2});
    expect(readFileSync(journal, 'utf8')).toBe(`${first}\nnot json\n${second}\n`);
    // seqs out of order are corruption too
    writeFileSync(journal, `${second}\n${first}\n`);
    expect(codedErrorOf(() => openCampaignState(stateRoot, plan.id)).message).toMatch(/:2 .*seq 1 after seq 2/);
  });

  it('removes stray manifest temp files and ignores them', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    const stray = join(dirOf(plan.id), '.manifest.json.12345.abcd.tmp');
    writeFileSync(stray, '{"half":');
    const store = open(plan.id);
    expect(store.manifest).toEqual(initialManifest(plan));
    expect(existsSync(stray)).toBe(false);
  });

  it('leaves the files of a campaign a live lem holds untouched', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    const holder = create(plan);
    holder.record(start('conf0#1'));
    const journal = join(holder.dir, 'journal.jsonl');
    appendFileSync(journal, '{"seq":2,');
    const reader = open(plan.id);
    expect(findEntry(reader.manifest, 'conf0#1')!.status).toBe('running');
    expect(readFileSync(journal, 'utf8')).toMatch(/\{"seq":2,$/);
  });
});

describe('lock', () => {
  function writeLock(id: string, record: Record<string, unknown>): string {
    const path = join(dirOf(id), 'lock');
    writeFileSync(path, JSON.stringify(record));
    return path;
  }

  it('refuses while a live process holds it and takes it over once that process is dead', async () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    const child = sleeper();
    await waitFor(() => child.pid !== undefined && processStartTime(child.pid) !== null, 10_000);
    const pid = child.pid!;
    writeLock(plan.id, {pid, startTime: processStartTime(pid), hostname: hostname(), acquiredAt: '2025-01-01T00:00:00.000Z', token: 'x'});
    const store = open(plan.id);
    const error = codedErrorOf(() => store.lock());
    expect(error).toMatchObject({code: 'E_CAMPAIGN_LOCKED', exitCode: 2});
    expect(error.message).toContain(`pid ${pid}`);
    expect(error.try.join(' ')).toContain(`kill ${pid}`);
    expect(store.locked).toBe(false);
    expect(listCampaigns(stateRoot)[0]!.locked).toBe(true);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(await waitFor(() => processStartTime(pid) === null, 10_000)).toBe(true);
    expect(listCampaigns(stateRoot)[0]!.locked).toBe(false);
    const taken = store.lock();
    expect(taken).toMatchObject({tookOver: true, from: {pid}});
    expect(JSON.parse(readFileSync(join(store.dir, 'lock'), 'utf8'))).toMatchObject({pid: process.pid});
    store.unlock();
    expect(existsSync(join(store.dir, 'lock'))).toBe(false);
  });

  it('treats a lock with this pid but another start time as stale', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    writeLock(plan.id, {pid: process.pid, startTime: (processStartTime(process.pid) ?? 0) - 1, hostname: hostname(), acquiredAt: '2025-01-01T00:00:00.000Z', token: 'old'});
    expect(open(plan.id).lock()).toMatchObject({tookOver: true, from: {pid: process.pid}});
  });

  it('refuses a second holder in the same process; lock() is idempotent for its holder', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    const holder = create(plan);
    expect(holder.lock()).toEqual({tookOver: false, from: null});
    expect(codedErrorOf(() => open(plan.id).lock()).code).toBe('E_CAMPAIGN_LOCKED');
    holder.close();
    expect(open(plan.id).lock().tookOver).toBe(false);
  });

  it('waits out an unreadable lock while it may be being written, then takes it over', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    const path = join(dirOf(plan.id), 'lock');
    writeFileSync(path, '{"pid":');
    expect(codedErrorOf(() => open(plan.id).lock()).code).toBe('E_CAMPAIGN_LOCKED');
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(path, old, old);
    expect(open(plan.id).lock()).toEqual({tookOver: true, from: null});
  });

  it('never takes over a lock of another host, and says how to clear it', () => {
    const plan = planOf('bench-20250101T000000Z', 1);
    create(plan).close();
    const path = writeLock(plan.id, {pid: 999_999_999, startTime: 1, hostname: 'elsewhere', acquiredAt: '2025-01-01T00:00:00.000Z'});
    const error = codedErrorOf(() => open(plan.id).lock());
    expect(error.message).toContain('on host elsewhere');
    expect(error.try.join('\n')).toContain(`delete ${path}`);
  });
});

describe('listCampaigns', () => {
  it('lists every campaign folder, newest activity first, with counts, lock state and errors', () => {
    expect(listCampaigns(stateRoot)).toEqual([]);
    let tick = Date.UTC(2025, 0, 2);
    const now = () => new Date((tick += 1000));
    const done = track(createCampaignState(stateRoot, planOf('done-20250101T000000Z', 2), {now}));
    for (const key of ['conf0#1', 'conf1#1']) {
      done.record(start(key));
      done.record(end(key));
    }
    done.record({type: 'campaign-end', status: 'completed', reason: null});
    done.close();
    const killed = track(createCampaignState(stateRoot, planOf('killed-20250101T000000Z', 3), {now}));
    killed.record({type: 'campaign-start', resumed: false});
    killed.record(start('conf0#1'));
    killed.record(end('conf0#1', 'failed'));
    killed.record(start('conf1#1'));
    killed.close(); // as a kill leaves it: conf1#1 running, nobody holding the lock
    const live = track(createCampaignState(stateRoot, planOf('live-20250101T000000Z', 1), {now}));
    live.record(start('conf0#1'));
    mkdirSync(join(stateRoot, 'broken-20250101T000000Z'), {recursive: true});
    writeFileSync(join(stateRoot, 'broken-20250101T000000Z', 'plan.json'), '{');
    mkdirSync(join(stateRoot, 'servers'), {recursive: true});

    const listed = listCampaigns(stateRoot);
    expect(listed.map((l) => l.id)).toEqual(['live-20250101T000000Z', 'killed-20250101T000000Z', 'done-20250101T000000Z', 'broken-20250101T000000Z']);
    expect(listed[0]).toMatchObject({locked: true, interrupted: 0, unfinished: true, status: 'pending', total: 1});
    expect(listed[1]).toEqual({
      id: 'killed-20250101T000000Z',
      name: 'killed',
      file: '/tmp/killed-20250101T000000Z.yaml',
      status: 'running',
      done: 1,
      total: 3,
      failed: 1,
      interrupted: 1,
      lastActivity: killed.manifest.updatedAt,
      locked: false,
      unfinished: true,
    });
    expect(listed[2]).toMatchObject({status: 'completed', done: 2, total: 2, unfinished: false, locked: false});
    expect(listed[3]).toMatchObject({id: 'broken-20250101T000000Z', unfinished: true, locked: false});
    expect(listed[3]!.error).toMatch(/E_CAMPAIGN_STATE_CORRUPT/);
  });
});

describe('crash points', () => {
  it('a kill mid manifest write leaves the old manifest and the journal line, which open applies', async () => {
    const plan = planOf('bench-20250101T000000Z', 2);
    const store = create(plan);
    store.record(start('conf0#1'));
    const before = store.manifest;
    store.close();
    const body = `const store = openCampaignState(${JSON.stringify(stateRoot)}, ${JSON.stringify(plan.id)});
store.lock();
store.record({type: 'run-end', key: 'conf0#1', attempt: 1, status: 'completed', category: null, code: null, message: null, resultPath: 'conf0#1/1', durationS: 3});
process.stderr.write('survived\\n');`;
    const result = await runChild(body, {LEM_TEST_CRASH_AT: 'mid-manifest-write'});
    expect(result.signal).toBe('SIGKILL');
    expect(result.stderr).toContain('LEM_TEST_CRASH_AT=mid-manifest-write');
    expect(result.stderr).not.toContain('survived');
    const dir = dirOf(plan.id);
    expect(readdirSync(dir).filter((n) => /^\.manifest\.json\..*\.tmp$/.test(n))).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toEqual(before);
    expect(journalOf(plan.id).trimEnd().split('\n')).toHaveLength(2);

    const reopened = open(plan.id);
    expect(reopened.manifest.journalSeq).toBe(2);
    expect(findEntry(reopened.manifest, 'conf0#1')).toMatchObject({status: 'completed', attempts: 1, resultPath: 'conf0#1/1'});
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    reopened.lock(); // the dead child's lock is stale
    expect(reopened.record(start('conf1#1')).seq).toBe(3);
  });
});

describe('a 30,000-entry campaign', () => {
  it('opens with its journal well under a second and records with the index', () => {
    const plan = planOf('big-20250101T000000Z', 10_000, 3);
    expect(plan.runs).toHaveLength(30_000);
    create(plan).close();
    const events = plan.runs.slice(0, 20_000).flatMap((r) => [start(r.key), end(r.key)]);
    const lines = events.map((e, i) => ({...e, seq: i + 1, at: new Date(Date.UTC(2025, 0, 2) + i * 1000).toISOString()}) as JournalLine);
    const dir = dirOf(plan.id);
    writeFileSync(join(dir, 'journal.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    // manifest.json 10 lines behind the journal, as after a kill between append and rewrite
    const behind = applyEvents(initialManifest(plan), lines.slice(0, -10));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(behind));

    const t0 = performance.now();
    const store = open(plan.id);
    const openMs = performance.now() - t0;
    expect(store.manifest.journalSeq).toBe(40_000);
    expect(store.manifest.entries.filter((e) => e.status === 'completed')).toHaveLength(20_000);
    expect(findEntry(store.manifest, 'conf9999#3')!.status).toBe('pending');
    expect(openMs, `open took ${openMs.toFixed(0)} ms`).toBeLessThan(1000);

    store.lock();
    const t1 = performance.now();
    store.record(start('conf9999#3'));
    const recordMs = performance.now() - t1;
    expect(findEntry(store.manifest, 'conf9999#3')!.status).toBe('running');
    expect(recordMs, `record took ${recordMs.toFixed(0)} ms`).toBeLessThan(1000);
    expect(statSync(join(dir, 'manifest.json')).size).toBeGreaterThan(1_000_000);
  });
});
