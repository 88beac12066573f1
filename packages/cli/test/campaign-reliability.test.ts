/**
 * State that survives anything (DESIGN §1 principle 4, §7), through real processes: the real
 * `lem` binary on the real llama.cpp server and the tiny model, killed with SIGKILL at random
 * instants and at its named fault points (LEM_TEST_CRASH_AT), or stopped by real signals. After
 * each, `lem resume` must complete the campaign with every configuration × cycle completed
 * exactly once, every state file readable, and no lem or server left behind.
 *
 * Instants are found by watching campaign.log (always at debug level: every phase of every run is
 * in it) and the run's requests.jsonl — counted events, never a guessed sleep. The random delays
 * only choose where a kill lands; no assertion depends on how long anything took.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {randomInt} from 'node:crypto';
import {closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {freshHome, LEM_BIN} from './helpers.js';

const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
const SERVER_MAIN = fileURLToPath(new URL('../../../plugins/backend-llamacpp/dist/server/main.js', import.meta.url));

/** Draws for the random kills; LEM_TEST_SEED replays them (where they land still depends on timing). */
const SEED = process.env.LEM_TEST_SEED ? Number(process.env.LEM_TEST_SEED) : randomInt(2 ** 31);
if (!Number.isSafeInteger(SEED)) throw new Error(`LEM_TEST_SEED must be an integer, not ${process.env.LEM_TEST_SEED}`);

/** Measured requests per run. */
const N_PROMPTS = 6;
/**
 * Where a signal must land in measure: freezeInMeasure needs ≥ 3 requests still unanswered when it
 * freezes the server, so a longer measure (≈ 10 ms a request) leaves a wide margin on a busy machine.
 */
const N_PROMPTS_SIGNALLED = 16;

let home: string;
let root: string;
let model: string;
let notGguf: string;

beforeAll(async () => {
  home = freshHome();
  root = mkdtempSync(join(tmpdir(), 'lem-rel-'));
  model = join(root, 'tiny.gguf');
  notGguf = join(root, 'not-a-model.gguf');
  writeFileSync(notGguf, 'this is not a GGUF file\n');
  const {writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: (p: string, o: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
  console.log(`campaign-reliability: seed ${SEED} (LEM_TEST_SEED=${SEED} draws the same kill instants again)`);
});

afterAll(() => {
  // Only after a failure is anything left: take it down so it cannot disturb the next file.
  for (const p of [...lems(), ...servers()]) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

// ------------------------------------------------------------------------------------------------
// Projects, campaign files and lem processes

interface Project {
  dir: string;
  file: string;
}

/** A project folder of its own (its .lem-state, results/ and server pid files) with one campaign file. */
function project(name: string, body: string): Project {
  const dir = join(root, name);
  mkdirSync(join(dir, '.lem-state'), {recursive: true});
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\n${body}`);
  return {dir, file};
}

/** The experiment keys every campaign here shares: the tiny model, a few short requests, 1 thread. */
const TINY = `backend: llamacpp
model: MODEL
dataset:
  kind: builtin
  n_prompts: N_PROMPTS
  max_input_tokens: 32
workload:
  concurrency: 1
  max_output_tokens: 8
warmup:
  mode: fixed
  requests: 1
measure:
  baseline_s: 0.2
  idle_settle_s: 0
llamacpp:
  threads: 1
`;

const tiny = (prompts = N_PROMPTS) => TINY.replace('MODEL', model).replace('N_PROMPTS', String(prompts));

/** Two configurations (par1, par2) × `cycles`, interleaved, with short real gaps. */
function twoBy(cycles: number, name: string, prompts = N_PROMPTS): Project {
  return project(name, `sweep:\n  llamacpp.parallel: [1, 2]\ncycles: ${cycles}\norder: interleaved\ngaps:\n  between_experiments_s: 0.2\n  between_cycles_s: 0.3\n${tiny(prompts)}`);
}

interface Lem {
  pid: number;
  child: ChildProcess;
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;
  done: () => boolean;
  stdout: () => string;
  stderr: () => string;
}

function startLem(p: Project, args: string[], env: NodeJS.ProcessEnv = {}): Lem {
  const {LEM_TEST_CRASH_AT: _armed, ...inherited} = process.env;
  const child = spawn(process.execPath, [LEM_BIN, ...args], {
    cwd: p.dir,
    env: {
      ...inherited,
      LEM_DATA_DIR: join(home, 'data'),
      LEM_CONFIG_DIR: join(home, 'config'),
      LEM_CACHE_DIR: join(home, 'cache'),
      LEM_LOCK_DIR: join(home, 'locks'),
      LEM_PROJECT_ROOT: p.dir,
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let done = false;
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.on('exit', (code, signal) => {
      done = true;
      resolve({code, signal});
    }),
  );
  return {pid: child.pid!, child, exited, done: () => done, stdout: () => stdout, stderr: () => stderr};
}

/** Runs lem to its end. */
async function lemToEnd(p: Project, args: string[], env: NodeJS.ProcessEnv = {}) {
  const l = startLem(p, args, env);
  const {code, signal} = await l.exited;
  return {code, signal, stdout: l.stdout(), stderr: l.stderr()};
}

/** The one campaign of a project (its folder has a plan.json), or null before lem wrote one. */
function campaignId(p: Project): string | null {
  const state = join(p.dir, '.lem-state');
  const ids = readdirSync(state).filter((d) => existsSync(join(state, d, 'plan.json')));
  expect(ids.length, `campaigns in ${state}`).toBeLessThanOrEqual(1);
  return ids[0] ?? null;
}

const stateDir = (p: Project, id: string) => join(p.dir, '.lem-state', id);

/** campaign.log of campaign `id`, or of the project's one campaign once `lem campaign run` has made it. */
function logOf(p: Project, id: string | null): string | null {
  const at = id ?? campaignId(p);
  return at ? join(stateDir(p, at), 'campaign.log') : null;
}

/** campaign.log as it grows: the lines appended since `from` bytes (a resumed lem appends to it). */
class LogTail {
  readonly lines: string[] = [];
  private offset: number;
  private partial = '';

  constructor(
    private readonly path: () => string | null,
    fromEnd: boolean,
  ) {
    const at = path();
    this.offset = fromEnd && at && existsSync(at) ? statSync(at).size : 0;
  }

  poll(): void {
    const at = this.path();
    if (!at || !existsSync(at)) return;
    const fd = openSync(at, 'r');
    try {
      const buffer = Buffer.alloc(1 << 16);
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const text = this.partial + buffer.toString('utf8', 0, n);
        const parts = text.split('\n');
        this.partial = parts.pop()!;
        this.lines.push(...parts);
      }
    } finally {
      closeSync(fd);
    }
  }

  count(pattern: string | RegExp): number {
    return this.lines.filter((l) => (typeof pattern === 'string' ? l.includes(pattern) : pattern.test(l))).length;
  }
}

const phaseStart = (phase: string) => `{"type":"phase","phase":"${phase}","state":"start"}`;
const RUN_END = / (DEBUG|WARN {2}) run-end \{/;
const SESSION_START = / DEBUG campaign \S+ (started|resumed):/;

/**
 * Waits until `pattern` has appeared `n` times in the session's log lines; false when lem ended
 * first. Bounded only to turn a hang into a message (the events come within seconds).
 */
async function awaitLog(l: Lem, tail: LogTail, pattern: string | RegExp, n = 1, boundMs = 90_000): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    tail.poll();
    if (tail.count(pattern) >= n) return true;
    if (l.done()) {
      tail.poll();
      return tail.count(pattern) >= n;
    }
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} ×${n} in campaign.log within ${boundMs} ms; its last lines:\n${tail.lines.slice(-15).join('\n')}\nstderr: ${l.stderr()}`);
    await sleep(5);
  }
}

async function until(what: string, condition: () => boolean, boundMs = 10_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms`);
    await sleep(20);
  }
}

// ------------------------------------------------------------------------------------------------
// Processes: /proc, so zombies (already dead, not yet reaped) never count as alive

interface Proc {
  pid: number;
  ppid: number;
  cmdline: string;
  cwd: string | null;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      let cwd: string | null = null;
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // another user's process
      }
      out.push({pid: Number(name), ppid: Number(fields[1]), cmdline, cwd});
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** llama.cpp servers of this checkout on this file's models (other test files may run their own). */
const servers = () => processes().filter((p) => p.cmdline.includes(SERVER_MAIN) && p.cmdline.includes(root));
/** lem processes working in one of this file's projects. */
const lems = () => processes().filter((p) => p.cmdline.includes(LEM_BIN) && (p.cwd?.startsWith(root) ?? false));

const isAlive = (pid: number) => processes().some((p) => p.pid === pid);

// ------------------------------------------------------------------------------------------------
// State files

interface AttemptRecord {
  attempt: number;
  status: string;
  code: string | null;
  resultPath: string;
}
interface Entry {
  key: string;
  configuration: string;
  cycle: number;
  status: string;
  category: string | null;
  attempts: number;
  resultPath: string | null;
  history: AttemptRecord[];
}
interface Manifest {
  status: string;
  journalSeq: number;
  entries: Entry[];
}
interface Plan {
  id: string;
  hash: string;
  resultsDir: string;
  runs: Array<{key: string; configuration: string; cycle: number}>;
}
interface JournalLine {
  seq: number;
  type: string;
  key?: string;
  status?: string;
  resultPath?: string;
  adopted?: boolean;
}
interface RunResult {
  status: string;
  failure: {category: string; code: string} | null;
  metrics: object | null;
  campaign: {id: string; configuration: string; cycle: number; planHash: string; attempt: number} | null;
}
interface State {
  plan: Plan;
  manifest: Manifest | null;
  journal: JournalLine[];
  /** The journal's last line did not parse: a kill during its append (the next open drops it). */
  torn: boolean;
}

function parse<T>(path: string): T {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path} does not parse: ${(error as Error).message}\n${text.slice(0, 500)}`);
  }
}

/**
 * Reads and checks a campaign's state folder: plan.json, manifest.json and progress.json parse,
 * every journal line parses (after a kill the last may be torn, `afterKill`), seqs strictly
 * increase, and the manifest is never ahead of the journal. A kill during creation may leave the
 * manifest and progress not yet written (`afterKill`).
 */
function readState(p: Project, id: string, afterKill = false): State {
  const dir = stateDir(p, id);
  const plan = parse<Plan>(join(dir, 'plan.json'));
  expect(plan.id).toBe(id);
  const lines = existsSync(join(dir, 'journal.jsonl')) ? readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n') : [];
  if (lines.at(-1) === '') lines.pop();
  const journal: JournalLine[] = [];
  let torn = false;
  lines.forEach((text, i) => {
    try {
      journal.push(JSON.parse(text) as JournalLine);
    } catch {
      if (!(afterKill && i === lines.length - 1)) throw new Error(`${dir}/journal.jsonl line ${i + 1} does not parse: ${text}`);
      torn = true;
    }
  });
  for (let i = 1; i < journal.length; i++) expect(journal[i]!.seq, `journal seq after seq ${journal[i - 1]!.seq}`).toBeGreaterThan(journal[i - 1]!.seq);
  for (const name of ['manifest.json', 'progress.json']) {
    if (!afterKill) expect(existsSync(join(dir, name)), `${dir}/${name}`).toBe(true);
  }
  const manifest = existsSync(join(dir, 'manifest.json')) ? parse<Manifest>(join(dir, 'manifest.json')) : null;
  if (existsSync(join(dir, 'progress.json'))) parse(join(dir, 'progress.json'));
  if (manifest) {
    expect(manifest.entries.length).toBe(plan.runs.length);
    expect(manifest.journalSeq, 'manifest.json is never ahead of the journal').toBeLessThanOrEqual(journal.at(-1)?.seq ?? 0);
  }
  return {plan, manifest, journal, torn};
}

function readResult(plan: Plan, resultPath: string): RunResult | null {
  const path = join(plan.resultsDir, resultPath, 'result.json');
  return existsSync(path) ? parse<RunResult>(path) : null;
}

const entry = (manifest: Manifest | null, key: string) => manifest?.entries.find((e) => e.key === key);
const runStarts = (s: State, key: string) => s.journal.filter((l) => l.type === 'run-start' && l.key === key);

/**
 * A completed campaign: every configuration × cycle of the plan completed exactly once (one
 * completed run-end per key in the journal), each completed entry's result.json complete with the
 * campaign context of its entry, no completed result on disk that the manifest does not reference
 * (a stray one would be a run measured twice), stray tries not counted by the summary, progress at
 * total, no pid file left, no lem or server left.
 */
function expectCompleted(p: Project, id: string, context: string): State {
  const s = readState(p, id);
  const {plan, manifest} = s;
  expect(manifest!.status, context).toBe('completed');
  const keys = plan.runs.map((r) => r.key);
  expect(new Set(keys).size).toBe(keys.length);
  expect(manifest!.entries.map((e) => e.key).sort()).toEqual([...keys].sort());
  const cycles = new Set(plan.runs.map((r) => r.cycle)).size;
  for (const e of manifest!.entries) {
    expect(e.status, `${context}: ${e.key}`).toBe('completed');
    const ends = s.journal.filter((l) => l.type === 'run-end' && l.key === e.key && l.status === 'completed');
    expect(ends.length, `${context}: completed run-ends of ${e.key}`).toBe(1);
    expect(ends[0]!.resultPath).toBe(e.resultPath);
    const result = readResult(plan, e.resultPath!);
    expect(result, `${context}: ${e.key} result.json`).not.toBeNull();
    expect(result!.status).toBe('completed');
    expect(result!.metrics, `${context}: ${e.key} metrics`).not.toBeNull();
    expect(result!.campaign).toMatchObject({id, configuration: e.configuration, cycle: e.cycle, planHash: plan.hash});
  }
  // Every complete, completed result on disk is the one its entry references; other tries are strays.
  const referenced = new Set(manifest!.entries.map((e) => e.resultPath));
  const folders = readdirSync(plan.resultsDir, {withFileTypes: true}).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const folder of folders) {
    const result = readResult(plan, folder);
    if (result?.status === 'completed') expect(referenced.has(folder), `${context}: ${folder} holds a completed result no entry references`).toBe(true);
  }
  const summary = parse<{counts: Record<string, number>; summary: {configurations: Array<{name: string; metrics: {outputTokensPerS: {n: number}}}>}}>(join(plan.resultsDir, 'summary.json'));
  expect(summary.counts).toEqual({completed: keys.length});
  for (const c of summary.summary.configurations) expect(c.metrics.outputTokensPerS.n, `${context}: summary n of ${c.name}`).toBe(cycles);
  const progress = parse<{done: number; total: number; status: string}>(join(stateDir(p, id), 'progress.json'));
  expect(progress).toMatchObject({done: keys.length, total: keys.length, status: 'completed'});
  const pidFiles = readdirSync(join(p.dir, '.lem-state', 'servers')).filter((f) => f.endsWith('.json'));
  expect(pidFiles, `${context}: server pid files left`).toEqual([]);
  expect(servers(), `${context}: servers left`).toEqual([]);
  expect(lems(), `${context}: lem processes left`).toEqual([]);
  return s;
}

function expectKilledAt(run: {signal: NodeJS.Signals | null; code: number | null; stderr: string}, point: string): void {
  expect(run.signal, run.stderr).toBe('SIGKILL');
  expect(run.stderr).toContain(`LEM_TEST_CRASH_AT=${point}\n`);
}

/** After a kill: the server dies by its parent-death signal; if it did not, the next lem must reap it. */
async function serversGone(context: string): Promise<void> {
  await until(`${context}: servers of a killed lem stop`, () => servers().length === 0);
}

// ------------------------------------------------------------------------------------------------
// Signals during measure: the server is frozen (SIGSTOP) once measure has begun, so measure cannot
// end before the signal lands, however slow the machine.

interface Frozen {
  server: number;
  key: string;
  runDir: string;
}

/** Freezes the session's server in the measure phase of its `nth` (or a later) run, of N_PROMPTS_SIGNALLED requests. */
async function freezeInMeasure(p: Project, l: Lem, tail: LogTail, nth: number): Promise<Frozen> {
  for (let n = nth; ; n++) {
    if (!(await awaitLog(l, tail, phaseStart('measure'), n))) throw new Error(`the campaign ended before measure ×${n}: ${l.stderr()}`);
    const server = serverOf(p, l);
    process.kill(server, 'SIGSTOP');
    tail.poll();
    const measureLine = tail.lines.filter((line) => line.includes(phaseStart('measure')))[n - 1]!;
    const key = measureLine.split(' ')[2]!;
    const runStart = tail.lines.filter((line) => / DEBUG run-start \{/.test(line)).at(-1)!;
    const runDir = (JSON.parse(runStart.slice(runStart.indexOf('{'))) as {runDir: string}).runDir;
    // Concurrency 1: each record is written in the tick its stream ends, and with the server frozen
    // at most the one response already on its way can still end. So with ≤ N − 3 records on disk,
    // the last request can never be answered: measure cannot end before the signal.
    const requests = join(runDir, 'requests.jsonl');
    const measured = existsSync(requests) ? readFileSync(requests, 'utf8').split('\n').filter((r) => r.includes('"phase":"measure"')).length : 0;
    if (measured <= N_PROMPTS_SIGNALLED - 3) return {server, key, runDir};
    process.kill(server, 'SIGCONT'); // too late for this run: try the next one
  }
}

/** The pid of lem `l`'s server, from its pid file (read at once: no scan of /proc on the way to SIGSTOP). */
function serverOf(p: Project, l: Lem): number {
  const dir = join(p.dir, '.lem-state', 'servers');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const record = JSON.parse(readFileSync(join(dir, name), 'utf8')) as {pid: number; lemPid: number};
    if (record.lemPid === l.pid) return record.pid;
  }
  throw new Error(`no server of lem ${l.pid} in ${dir}`);
}

async function signalled(l: Lem, signal: NodeJS.Signals): Promise<void> {
  process.kill(l.pid, signal);
  await until(`lem notes ${signal}`, () => l.stderr().includes(`${signal}: stopping`) || l.done());
}

// ------------------------------------------------------------------------------------------------

describe('kill -9 of lem at random instants, then lem resume, again and again', () => {
  /**
   * Where a kill is aimed: after this session's first such event, within about its duration.
   * Drawn from this list, so every stage gets kills however short it is (a uniform instant over a
   * run would nearly always land in the launch). Start-up and launch twice: they are cheap to reach.
   */
  const startUp = {stage: 'start-up', after: null, withinMs: 1_200}; // loading, planning, resume settling, reaping
  const launch = {stage: 'launch', after: phaseStart('launch'), withinMs: 1_600};
  const AIMS: Array<{stage: string; after: string | RegExp | null; withinMs: number}> = [
    startUp,
    startUp,
    launch,
    launch,
    {stage: 'warm-up', after: phaseStart('warmup'), withinMs: 20},
    {stage: 'idle', after: phaseStart('idle'), withinMs: 200},
    {stage: 'measure', after: phaseStart('measure'), withinMs: 50},
    {stage: 'teardown', after: phaseStart('teardown'), withinMs: 40},
    {stage: 'gap', after: RUN_END, withinMs: 300}, // the journal write, the gap, the next run's start
  ];
  const KILLS = 20;

  /** Where a kill landed, from the last event the killed lem logged. */
  function landing(tail: LogTail): string {
    tail.poll();
    let where = 'start-up';
    for (const line of tail.lines) {
      const phase = /"type":"phase","phase":"(\w+)","state":"(start|end)"/.exec(line);
      if (phase) where = phase[2] === 'start' ? phase[1]! : `after ${phase[1]}`;
      else if (RUN_END.test(line)) where = 'gap';
    }
    return where;
  }

  it(`${KILLS} kills along small campaigns lose, duplicate and leave behind nothing`, async () => {
    let draw = SEED >>> 0;
    // mulberry32
    const random = () => {
      draw = (draw + 0x6d2b79f5) >>> 0;
      let t = draw;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const landed: Record<string, number> = {};
    let campaigns = 1;
    let p = twoBy(2, 'kill-1');
    let id: string | null = null;
    let kills = 0;
    let completed = 0;
    let orphans: number[] = [];
    let torn = 0;
    const context = () => `seed ${SEED}, after ${kills} kills`;
    const finishCampaign = () => {
      expectCompleted(p, id!, context());
      completed++;
      p = twoBy(2, `kill-${++campaigns}`);
      id = null;
    };
    while (kills < KILLS) {
      const tail = new LogTail(() => logOf(p, id), id !== null);
      const session = id ? startLem(p, ['resume', id, '--quiet']) : startLem(p, ['campaign', 'run', p.file, '--quiet']);
      const aim = AIMS[Math.floor(random() * AIMS.length)]!;
      const delayMs = random() * aim.withinMs;
      const reached = aim.after === null ? true : await awaitLog(session, tail, aim.after);
      if (reached) await sleep(delayMs);
      if (!session.done()) process.kill(session.pid, 'SIGKILL');
      const {code, signal} = await session.exited;
      id ??= campaignId(p);
      if (signal !== 'SIGKILL') {
        // It finished before the aim came (the last run's events were its last).
        expect(code, `${context()}: ${session.stderr()}`).toBe(0);
        finishCampaign();
        continue;
      }
      kills++;
      const where = landing(tail);
      landed[where] = (landed[where] ?? 0) + 1;
      // The lem that resumed has reaped, before its campaign started, what earlier kills left.
      if (tail.count(SESSION_START) > 0) {
        for (const pid of orphans) expect(isAlive(pid), `${context()}: server ${pid} of a killed lem was not reaped`).toBe(false);
        orphans = [];
      }
      expect(lems(), `${context()}: lem processes left`).toEqual([]);
      if (id && readState(p, id, true).torn) torn++;
      try {
        await serversGone(context());
      } catch {
        orphans = servers().map((s) => s.pid);
      }
    }
    // The last campaign, resumed without a kill, completes.
    if (id) {
      const last = await lemToEnd(p, ['resume', id, '--quiet']);
      expect(last.code, last.stderr).toBe(0);
      expectCompleted(p, id, `seed ${SEED}, after the last kill`);
      completed++;
    }
    expect(servers()).toEqual([]);
    console.log(`campaign-reliability: seed ${SEED}: ${kills} kills over ${completed} campaign(s), landed in ${JSON.stringify(landed)}; torn journal lines: ${torn}`);
  }, 300_000);
});

// One cycle each: a fault point needs a run on either side of it; the kill test covers cycles.
describe('the fault points (LEM_TEST_CRASH_AT), each resumed', () => {
  it('after-result-before-journal: resume adopts the complete result instead of running it again', async () => {
    const p = twoBy(1, 'fault-adopt');
    const crashed = await lemToEnd(p, ['campaign', 'run', p.file, '--quiet'], {LEM_TEST_CRASH_AT: 'after-result-before-journal'});
    expectKilledAt(crashed, 'after-result-before-journal');
    const id = campaignId(p)!;
    const before = readState(p, id, true);
    expect(entry(before.manifest, 'par1#1')).toMatchObject({status: 'running', resultPath: null});
    expect(readResult(before.plan, 'par1-c1-t1')).toMatchObject({status: 'completed', campaign: {configuration: 'par1', cycle: 1}});
    await serversGone('after the crash');

    const resumed = await lemToEnd(p, ['resume', id, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((JSON.parse(resumed.stdout) as {notes: string[]}).notes).toContain('adopted 1 result written just before lem stopped: par1#1');
    const s = expectCompleted(p, id, 'after-result-before-journal');
    expect(entry(s.manifest, 'par1#1')).toMatchObject({resultPath: 'par1-c1-t1', attempts: 1});
    // Not run again: one start, and its end is the adoption; no second try folder.
    expect(runStarts(s, 'par1#1')).toHaveLength(1);
    expect(s.journal.filter((l) => l.type === 'run-end' && l.key === 'par1#1')).toMatchObject([{status: 'completed', adopted: true, resultPath: 'par1-c1-t1'}]);
    expect(existsSync(join(s.plan.resultsDir, 'par1-c1-t2'))).toBe(false);
  }, 120_000);

  it('mid-manifest-write (at a run-end): the journal has the event, resume catches the manifest up and removes the temp file', async () => {
    const p = twoBy(1, 'fault-manifest');
    // Manifest writes: 1 creation, 2 campaign-start, 3 par1#1's run-start, 4 its run-end.
    const crashed = await lemToEnd(p, ['campaign', 'run', p.file, '--quiet'], {LEM_TEST_CRASH_AT: 'mid-manifest-write:4'});
    expectKilledAt(crashed, 'mid-manifest-write');
    const id = campaignId(p)!;
    const before = readState(p, id, true);
    expect(before.journal.at(-1)).toMatchObject({type: 'run-end', key: 'par1#1', status: 'completed'});
    expect(before.manifest!.journalSeq, 'the manifest lags one event').toBe(before.journal.at(-1)!.seq - 1);
    expect(entry(before.manifest, 'par1#1')!.status).toBe('running');
    expect(readdirSync(stateDir(p, id)).filter((f) => /^\.manifest\.json\..+\.tmp$/.test(f))).toHaveLength(1);
    await serversGone('after the crash');

    const resumed = await lemToEnd(p, ['resume', id, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const s = expectCompleted(p, id, 'mid-manifest-write');
    expect(runStarts(s, 'par1#1')).toHaveLength(1);
    expect(readdirSync(stateDir(p, id)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readFileSync(join(stateDir(p, id), 'campaign.log'), 'utf8')).toMatch(/WARN {2}removed the stray temp file \.manifest\.json\..+\.tmp/);
  }, 120_000);

  it('in-gap: nothing is running, and resume goes on with the next run', async () => {
    const p = twoBy(1, 'fault-gap');
    const crashed = await lemToEnd(p, ['campaign', 'run', p.file, '--quiet'], {LEM_TEST_CRASH_AT: 'in-gap'});
    expectKilledAt(crashed, 'in-gap');
    const id = campaignId(p)!;
    const before = readState(p, id, true);
    expect(before.manifest!.entries.map((e) => `${e.key} ${e.status}`)).toEqual(['par1#1 completed', 'par2#1 pending']);
    expect(servers()).toEqual([]); // between runs there is no server
    const resumed = await lemToEnd(p, ['resume', id, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const s = expectCompleted(p, id, 'in-gap');
    for (const e of s.manifest!.entries) expect(runStarts(s, e.key), e.key).toHaveLength(1);
  }, 120_000);

  it('in-teardown (its server still up): the server does not outlive lem, and resume runs that run again', async () => {
    const p = twoBy(1, 'fault-teardown');
    const crashed = await lemToEnd(p, ['campaign', 'run', p.file, '--quiet'], {LEM_TEST_CRASH_AT: 'in-teardown:2'});
    expectKilledAt(crashed, 'in-teardown');
    const id = campaignId(p)!;
    const before = readState(p, id, true);
    expect(entry(before.manifest, 'par2#1')).toMatchObject({status: 'running'});
    expect(readResult(before.plan, 'par2-c1-t1'), 'no result before teardown ends').toBeNull();
    await serversGone('after the crash');

    const resumed = await lemToEnd(p, ['resume', id, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((JSON.parse(resumed.stdout) as {notes: string[]}).notes.join('\n')).not.toContain('adopted');
    const s = expectCompleted(p, id, 'in-teardown');
    expect(entry(s.manifest, 'par2#1')).toMatchObject({resultPath: 'par2-c1-t2', attempts: 1});
    expect(entry(s.manifest, 'par2#1')!.history.map((h) => `${h.resultPath} ${h.status}`)).toEqual(['par2-c1-t1 interrupted', 'par2-c1-t2 completed']);
  }, 120_000);

  it('in-threshold-prompt: the unanswered question decides nothing; resume settles every run', async () => {
    // bad#1 alone (1 of 1 failed) crosses the threshold; with good#1 it is 1 of 2, not above 0.5.
    const p = project(
      'fault-threshold',
      `experiments:\n  - {name: bad, llamacpp: {model_path: ${notGguf}}}\n  - {name: good}\ncycles: 1\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\nfailure_threshold: {ratio: 0.5, scope: campaign, min_finished: 1}\n${tiny()}`,
    );
    const crashed = await lemToEnd(p, ['campaign', 'run', p.file, '--quiet'], {LEM_TEST_CRASH_AT: 'in-threshold-prompt'});
    expectKilledAt(crashed, 'in-threshold-prompt');
    const id = campaignId(p)!;
    const before = readState(p, id, true);
    expect(entry(before.manifest, 'bad#1')).toMatchObject({status: 'failed', category: 'config', attempts: 1});
    expect(before.journal.filter((l) => l.type === 'threshold')).toEqual([]);
    expect(before.manifest!.status).toBe('running');
    await serversGone('after the crash');

    const resumed = await lemToEnd(p, ['resume', id, '--json']);
    expect(resumed.code, resumed.stderr).toBe(1); // some runs failed
    const s = readState(p, id);
    expect(s.manifest!.status).toBe('completed');
    expect(s.manifest!.entries.map((e) => `${e.key} ${e.status} ${e.category}`)).toEqual(['bad#1 failed config', 'good#1 completed null']);
    // A config failure is not retried: bad#1 ran once.
    expect(runStarts(s, 'bad#1')).toHaveLength(1);
    expect(readResult(s.plan, entry(s.manifest, 'good#1')!.resultPath!)).toMatchObject({status: 'completed', campaign: {configuration: 'good', cycle: 1, planHash: s.plan.hash}});
    expect(servers()).toEqual([]);
    expect(lems()).toEqual([]);
  }, 120_000);
});

describe('signals as a person sends them', () => {
  it('Ctrl+C, SIGTERM and SIGHUP each stop with 130 and a saved state; a second Ctrl+C kills at once; resume completes', async () => {
    // Each session is stopped in the measure phase of its first run (or, should that one be missed,
    // of the next): par1#1, four tries, then the last resume completes both runs.
    const p = twoBy(1, 'signals', N_PROMPTS_SIGNALLED);
    const sessions: NodeJS.Signals[][] = [['SIGINT'], ['SIGTERM'], ['SIGHUP'], ['SIGINT', 'SIGINT']];
    let id: string | null = null;
    let interrupted = 0;
    let doubleKey: string | null = null;
    let doubleTry: string | null = null;
    for (const signals of sessions) {
      const what = signals.join('+');
      const tail = new LogTail(() => logOf(p, id), id !== null);
      const session: Lem = id ? startLem(p, ['resume', id]) : startLem(p, ['campaign', 'run', p.file]);
      const frozen = await freezeInMeasure(p, session, tail, 1);
      await signalled(session, signals[0]!);
      if (signals.length === 1) process.kill(frozen.server, 'SIGCONT'); // lets it stop in its grace
      else process.kill(session.pid, signals[1]!); // while lem still waits for the frozen server
      const {code} = await session.exited;
      interrupted++;
      id ??= campaignId(p);
      expect(code, `${what}: ${session.stderr()}`).toBe(130);
      const s = readState(p, id!);
      const e = entry(s.manifest, frozen.key)!;
      if (signals.length === 1) {
        // Stopped in order: the server is down before lem exits, the run and the campaign are interrupted.
        expect(servers(), `${what}: servers left`).toEqual([]);
        expect(s.manifest!.status, what).toBe('interrupted');
        expect(e, what).toMatchObject({status: 'interrupted', category: 'interrupted'});
        expect(readResult(s.plan, frozen.runDir.split('/').at(-1)!)?.failure, what).toMatchObject({category: 'interrupted'});
        expect(session.stderr(), what).toContain(`lem resume ${id}`);
      } else {
        // Killed at once: the entry reads running (resume treats it as interrupted); the exit hook killed the server.
        await serversGone(what);
        [doubleKey, doubleTry] = [frozen.key, frozen.runDir.split('/').at(-1)!];
        expect(e.status, what).toBe('running');
        expect(s.manifest!.status, what).toBe('running');
        expect(existsSync(join(frozen.runDir, 'result.json')), what).toBe(false);
      }
      expect(readdirSync(join(p.dir, '.lem-state', 'servers')).filter((f) => f.endsWith('.json')), `${what}: pid files`).toEqual([]);
      expect(lems(), `${what}: lem left`).toEqual([]);
    }
    const last = await lemToEnd(p, ['resume', id!, '--json']);
    expect(last.code, last.stderr).toBe(0);
    expect((JSON.parse(last.stdout) as {notes: string[]}).notes.join('\n')).not.toContain('adopted');
    const s = expectCompleted(p, id!, 'signals');
    // Interruptions are not attempts: every entry counts one, whatever its tries.
    for (const e of s.manifest!.entries) expect(e.attempts, e.key).toBe(1);
    const tries = s.manifest!.entries.flatMap((e) => e.history.filter((h) => h.status === 'interrupted'));
    expect(tries).toHaveLength(interrupted);
    // The try the double Ctrl+C left running was settled as interrupted by resume.
    const killed = entry(s.manifest, doubleKey!)!.history.find((h) => h.resultPath === doubleTry);
    expect(killed).toMatchObject({status: 'interrupted', code: 'E_INTERRUPTED'});
  }, 180_000);

  it('a Ctrl+C whose lem dies before journaling the interrupted run: resume runs it again, even with --no-retry-failed', async () => {
    const p = twoBy(1, 'interrupt-then-crash', N_PROMPTS_SIGNALLED);
    const tail = new LogTail(() => logOf(p, null), false);
    const session = startLem(p, ['campaign', 'run', p.file], {LEM_TEST_CRASH_AT: 'after-result-before-journal'});
    const frozen = await freezeInMeasure(p, session, tail, 1);
    await signalled(session, 'SIGINT');
    process.kill(frozen.server, 'SIGCONT');
    const {signal} = await session.exited;
    expectKilledAt({signal, code: null, stderr: session.stderr()}, 'after-result-before-journal');
    const id = campaignId(p)!;
    const before = readState(p, id, true);
    const tried = frozen.runDir.split('/').at(-1)!;
    expect(entry(before.manifest, frozen.key)!.status).toBe('running');
    expect(readResult(before.plan, tried)).toMatchObject({status: 'failed', failure: {category: 'interrupted'}});
    await serversGone('after the crash');

    const resumed = await lemToEnd(p, ['resume', id, '--json', '--no-retry-failed']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((JSON.parse(resumed.stdout) as {notes: string[]}).notes.join('\n')).not.toContain('adopted');
    const s = expectCompleted(p, id, 'interrupt-then-crash');
    expect(entry(s.manifest, frozen.key)).toMatchObject({attempts: 1, resultPath: tried.replace(/-t1$/, '-t2')});
    expect(entry(s.manifest, frozen.key)!.history.map((h) => h.status)).toEqual(['interrupted', 'completed']);
  }, 120_000);
});
