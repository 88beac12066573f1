/**
 * A campaign's failures through the real `lem` binary: retries, the failure threshold and its
 * question (asked in a real pseudo-terminal, answered with keys), `run_timeout_s`, the display of
 * a failing configuration, and campaigns left unfinished. The servers are real processes of a
 * small plain-JavaScript backend plugin (fixtures/campaign-server.mjs) that fails at start,
 * fails once, never becomes ready, or serves — what the tiny llama.cpp model cannot do on demand.
 */
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {spawnPty} from './__fixtures__/pty.js';
import {externalPlugin, freshHome, lem, LEM_BIN, lemEnv} from './helpers.js';

const server = fileURLToPath(new URL('./fixtures/campaign-server.mjs', import.meta.url));
let home: string;
let dir: string;

interface Entry {
  key: string;
  status: string;
  attempts: number;
  category: string | null;
  code: string | null;
  history: Array<{attempt: number; status: string; code: string | null; resultPath: string}>;
}
interface Manifest {
  status: string;
  disarmed: string[];
  entries: Entry[];
}
interface Threshold {
  type: 'threshold';
  scope: string;
  failed: number;
  finished: number;
  decision: string;
}

/** The backend `fake`: its section's `mode`, `marker` and `chunk_ms` become the fixture server's options. */
function fakeBackend(): string {
  return externalPlugin(
    'lem-backend-campaign-fake',
    `export default async () => [{kind: 'backend', id: 'fake', displayName: 'Fake', gpu: 'none', local: true, jsonSchema: {type: 'object'},
      configSchema: {'~standard': {version: 1, vendor: 'hand', validate: (v) => ({value: v ?? {}})}},
      server: (cfg, ctx) => ({
        argv: [process.execPath, ${JSON.stringify(server)}, '--mode', cfg.mode ?? 'ok', '--port', String(ctx.port), '--marker', cfg.marker, ...(cfg.chunk_ms ? ['--chunk-ms', String(cfg.chunk_ms)] : [])],
        env: {}, port: ctx.port, readiness: {healthPath: '/health', timeoutS: 30}, stop: {signal: 'SIGTERM', graceS: 2},
      })}];\n`,
  );
}

/** A project of its own, and a campaign file in it on the fake backend (its servers' marker inside it). */
function project(name: string, campaign: string): string {
  const cwd = join(dir, name);
  mkdirSync(cwd, {recursive: true});
  writeFileSync(
    join(cwd, `${name}.yaml`),
    `name: ${name}\n${campaign}backend: fake\nmodel: fake\nfake:\n  marker: ${join(cwd, 'marker')}\ndataset:\n  kind: builtin\n  n_prompts: 4\nworkload:\n  max_output_tokens: 8\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\n`,
  );
  return cwd;
}

/**
 * Three configurations × 2 cycles, interleaved: `fail` fails at start every time, `flaky` fails
 * its first start only, `ok` serves. With one retry, final outcomes go F, C, C, F, C, C: the
 * threshold (> 30 % once 3 have finished) is crossed after ok#1 (1 of 3). Were every attempt
 * counted, it would be after flaky#1 (3 of 4 attempts failed).
 */
const THRESHOLD = `sweep:\n  fake.mode: [fail, flaky, ok]\ncycles: 2\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\nretry:\n  max_attempts: 1\nfailure_threshold:\n  ratio: 0.3\n  min_finished: 3\n`;

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const campaigns = (cwd: string) => (existsSync(join(cwd, '.lem-state')) ? readdirSync(join(cwd, '.lem-state')).filter((d) => existsSync(join(cwd, '.lem-state', d, 'plan.json'))).sort() : []);
const manifestOf = (cwd: string, id: string) => readJson<Manifest>(join(cwd, '.lem-state', id, 'manifest.json'));
const thresholds = (cwd: string, id: string) =>
  readFileSync(join(cwd, '.lem-state', id, 'journal.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as {type: string})
    .filter((e): e is Threshold => e.type === 'threshold')
    .map(({scope, failed, finished, decision}) => ({scope, failed, finished, decision}));
const entries = (m: Manifest) => m.entries.map((e) => [e.key, e.status, e.attempts]);

function fakeServers(): string[] {
  const r = spawnSync('pgrep', ['-af', 'campaign-server.mjs'], {encoding: 'utf8'});
  return r.stdout.split('\n').filter((l) => l.includes(dir));
}

/**
 * Runs lem in a real pseudo-terminal (200 columns), as a human at a terminal would: each step's
 * keys are typed once its pattern shows in what the terminal printed since the step before. CI is
 * unset for lem: a terminal draws with Listr2 and asks.
 */
async function inTerminal(args: string[], cwd: string, steps: Array<{after: RegExp; keys: string}> = []): Promise<{status: number | null; output: string}> {
  const env = Object.fromEntries(Object.entries(lemEnv(home)).filter(([k]) => k !== 'CI'));
  const pty = spawnPty([process.execPath, LEM_BIN, ...args], {cwd, env, cols: 200});
  for (const step of steps) {
    await pty.waitFor(step.after, 120_000);
    pty.write(step.keys);
  }
  return {status: await pty.exited, output: pty.screen()};
}

const DOWN = '\u001B[B';
const ENTER = '\r';
const PROMPT = /Continue the campaign\?/;

beforeAll(() => {
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-campaign-fail-'));
  const link = lem(['plugins', 'link', fakeBackend(), '--no-install'], {home});
  expect(link.status, link.stderr).toBe(0);
});

afterAll(() => {
  for (const line of fakeServers()) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
});

describe('retries and the failure threshold without a terminal', () => {
  let cwd: string;
  let id: string;

  it('retries runtime failures, counts only final attempts, keeps each failure’s server lines, and stops at the threshold with exit 3', () => {
    cwd = project('nottys', THRESHOLD);
    const run = lem(['campaign', 'run', 'nottys.yaml'], {home, cwd});
    expect(run.status, run.stderr).toBe(3);
    [id] = campaigns(cwd) as [string];
    const manifest = manifestOf(cwd, id);
    expect(manifest.status).toBe('stopped');
    // fail: 1 + 1 retry, both failed; flaky: failed, then completed on its retry; ok: once. Then the stop.
    expect(entries(manifest)).toEqual([
      ['fail#1', 'failed', 2],
      ['flaky#1', 'completed', 2],
      ['ok#1', 'completed', 1],
      ['fail#2', 'pending', 0],
      ['flaky#2', 'pending', 0],
      ['ok#2', 'pending', 0],
    ]);
    expect(manifest.entries[0]).toMatchObject({category: 'runtime', code: 'E_SERVER_EXITED'});
    expect(manifest.entries[1]!.history.map((h) => [h.attempt, h.status])).toEqual([
      [1, 'failed'],
      [2, 'completed'],
    ]);
    // Asked once, after ok#1, with the final outcomes: 1 failed of 3 finished.
    expect(thresholds(cwd, id)).toEqual([{scope: 'campaign', failed: 1, finished: 3, decision: 'stop'}]);

    // On screen: each attempt's line, the failure in its category, the retry, and the campaign going on.
    const lines = run.stdout.split('\n').filter((l) => /^\[nottys |^✗ |^✓ |^failure threshold: /.test(l));
    expect(lines.map((l) => l.replace(/^\[nottys \S+\] /, '[] ').replace(/ {2}ETA .*$/, '').replace(/: the server exited .*?( \(will retry\))?$/, ':$1').replace(/ \d+(\.\d)?s$/, ''))).toEqual([
      '[] fail  cycle 1/2  run 1/6',
      '✗ runtime: E_SERVER_EXITED fail cycle 1: (will retry)',
      '[] fail  cycle 1/2  run 1/6  attempt 2',
      '✗ runtime: E_SERVER_EXITED fail cycle 1:',
      '[] flaky  cycle 1/2  run 2/6',
      '✗ runtime: E_SERVER_EXITED flaky cycle 1: (will retry)',
      '[] flaky  cycle 1/2  run 2/6  attempt 2',
      '✓ flaky cycle 1',
      '[] ok  cycle 1/2  run 3/6',
      '✓ ok cycle 1',
      'failure threshold: 1 of 3 runs failed (33 %) in scope campaign: stopping',
    ]);
    expect(run.stderr).toContain(`resume with: lem resume ${id}`);
    // A launch that failed is not drawn as done.
    const firstAttempt = run.stdout.slice(run.stdout.indexOf('[nottys '), run.stdout.indexOf('✗ runtime'));
    expect(firstAttempt).toContain('Launch the server');
    expect(firstAttempt).not.toContain('✔ Launch the server');
    expect(run.stderr).toMatch(/^✖ Launch the server \[FAILED/m);

    // Every failed attempt keeps its server's last 100 lines beside its result.json.
    const results = join(cwd, 'results', id);
    for (const folder of ['fail-c1-t1', 'fail-c1-t2', 'flaky-c1-t1']) {
      const tail = readFileSync(join(results, folder, 'server-tail.log'), 'utf8').trimEnd().split('\n');
      expect(tail, folder).toHaveLength(100);
      expect(tail[0]).toBe('loading shard 52');
      expect(tail.at(-1)).toBe('fatal: the fake server gives up');
      expect(readJson<{status: string; failure: {category: string; code: string}; campaign: {attempt: number}}>(join(results, folder, 'result.json'))).toMatchObject({
        status: 'failed',
        failure: {category: 'runtime', code: 'E_SERVER_EXITED'},
        campaign: {attempt: Number(folder.at(-1))},
      });
    }
    expect(existsSync(join(results, 'flaky-c1-t2', 'server-tail.log'))).toBe(false);
    const summary = readJson<{failures: Array<{key: string; category: string; code: string; serverLog: string}>}>(join(results, 'summary.json'));
    expect(summary.failures).toEqual([expect.objectContaining({key: 'fail#1', category: 'runtime', code: 'E_SERVER_EXITED', serverLog: join(results, 'fail-c1-t2', 'server-tail.log')})]);
    expect(fakeServers()).toEqual([]);
  });

  it('lem resume --no-retry-failed leaves the failed run alone and goes on; the threshold stops it again', () => {
    const run = lem(['resume', id, '--no-retry-failed'], {home, cwd});
    expect(run.status, run.stderr).toBe(3);
    expect(run.stdout).not.toMatch(/\] fail {2}cycle 1\/2/);
    expect(run.stdout).toMatch(/\] fail {2}cycle 2\/2 {2}run 4\/6 /);
    const manifest = manifestOf(cwd, id);
    expect(entries(manifest)).toEqual([
      ['fail#1', 'failed', 2],
      ['flaky#1', 'completed', 2],
      ['ok#1', 'completed', 1],
      ['fail#2', 'failed', 2],
      ['flaky#2', 'pending', 0],
      ['ok#2', 'pending', 0],
    ]);
    expect(manifest.entries[0]!.history).toHaveLength(2);
    expect(thresholds(cwd, id)).toEqual([
      {scope: 'campaign', failed: 1, finished: 3, decision: 'stop'},
      {scope: 'campaign', failed: 2, finished: 4, decision: 'stop'},
    ]);
  });
});

describe('the threshold question in a terminal', () => {
  it('stop: exit 3, resumable; lem resume asks again, continue disarms the scope, the rest runs, exit 1', async () => {
    const cwd = project('tty', THRESHOLD);
    const stopped = await inTerminal(['campaign', 'run', 'tty.yaml'], cwd, [{after: PROMPT, keys: ENTER}]);
    expect(stopped.status, stopped.output).toBe(3);
    const [id] = campaigns(cwd) as [string];
    expect(manifestOf(cwd, id).status).toBe('stopped');
    expect(thresholds(cwd, id)).toEqual([{scope: 'campaign', failed: 1, finished: 3, decision: 'stop'}]);
    // On a terminal too: the campaign's own note once at the top (2 cycles), never the single-run one.
    expect(stopped.output.match(/a confidence interval needs at least 2 values/g)).toHaveLength(1);
    expect(stopped.output).not.toMatch(/no confidence interval/i);

    // Resume re-runs fail#1 (failed, runtime): 1 of 3 again, asked again; continue.
    const resumed = await inTerminal(['resume', id], cwd, [
      {after: PROMPT, keys: DOWN},
      {after: /continue \(do not ask again/, keys: ENTER},
    ]);
    expect(resumed.status, resumed.output).toBe(1);
    const manifest = manifestOf(cwd, id);
    expect(manifest.status).toBe('completed');
    expect(manifest.disarmed).toEqual(['campaign']);
    expect(manifest.entries.map((e) => [e.key, e.status])).toEqual([
      ['fail#1', 'failed'],
      ['flaky#1', 'completed'],
      ['ok#1', 'completed'],
      ['fail#2', 'failed'],
      ['flaky#2', 'completed'],
      ['ok#2', 'completed'],
    ]);
    // The resumed fail#1 ran once more (its retry already spent); fail#2 had its attempt and its retry.
    expect(manifest.entries[0]!.history.map((h) => [h.attempt, h.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
    ]);
    expect(manifest.entries[3]!.attempts).toBe(2);
    // Disarmed: fail#2 took the campaign to 2 of 5 (> 30 %) without a third question.
    expect(thresholds(cwd, id)).toEqual([
      {scope: 'campaign', failed: 1, finished: 3, decision: 'stop'},
      {scope: 'campaign', failed: 1, finished: 3, decision: 'continue'},
    ]);
    expect(resumed.output).toMatch(/failed \(33 %\) in scope campaign: continuing/);
    expect(fakeServers()).toEqual([]);
  });

  it('no answer within prompt_timeout_s stops resumably with exit 3', async () => {
    const cwd = project('patience', `sweep:\n  fake.mode: [fail, ok]\ncycles: 2\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\nretry:\n  max_attempts: 0\nfailure_threshold:\n  ratio: 0\n  min_finished: 1\n  prompt_timeout_s: 0.5\n`);
    const run = await inTerminal(['campaign', 'run', 'patience.yaml'], cwd);
    expect(run.status, run.output).toBe(3);
    // It was asked (a terminal), and nobody answered.
    expect(run.output).toMatch(PROMPT);
    const [id] = campaigns(cwd) as [string];
    expect(thresholds(cwd, id)).toEqual([{scope: 'campaign', failed: 1, finished: 1, decision: 'stop'}]);
    expect(entries(manifestOf(cwd, id))).toEqual([
      ['fail#1', 'failed', 1],
      ['ok#1', 'pending', 0],
      ['fail#2', 'pending', 0],
      ['ok#2', 'pending', 0],
    ]);
  });
});

describe('failures on screen and in the files', () => {
  it('grouped order: a header per configuration; a failing configuration shows ✗ category: code and the campaign goes on (exit 1)', () => {
    const cwd = project('grouped', `sweep:\n  fake.mode: [fail, ok]\ncycles: 2\norder: grouped\ngaps:\n  between_experiments_s: 0.1\n  between_cycles_s: 0.2\nretry:\n  max_attempts: 0\nfailure_threshold:\n  ratio: 1\n`);
    const run = lem(['campaign', 'run', 'grouped.yaml'], {home, cwd});
    expect(run.status, run.stderr).toBe(1);
    const skeleton = run.stdout
      .split('\n')
      .filter((l) => /^=== |^gap |^\[grouped |^✗ |^✓ |^note: /.test(l))
      .map((l) => l.replace(/^\[grouped \S+\] /, '[] ').replace(/ {2}ETA .*$/, '').replace(/(E_SERVER_EXITED fail cycle \d): .*$/, '$1').replace(/ \d+(\.\d)?s$/, ''));
    expect(skeleton).toEqual([
      'note: 2 cycles: a confidence interval needs at least 2 values and is wide below 3 cycles; use cycles: 3 or more for figures you publish',
      '=== Configuration fail ===',
      '[] fail  cycle 1/2  run 1/4',
      '✗ runtime: E_SERVER_EXITED fail cycle 1',
      'gap 0.1s between experiments',
      '[] fail  cycle 2/2  run 2/4',
      '✗ runtime: E_SERVER_EXITED fail cycle 2',
      '=== Configuration ok ===',
      'gap 0.2s between cycles',
      '[] ok  cycle 1/2  run 3/4',
      '✓ ok cycle 1',
      'gap 0.1s between experiments',
      '[] ok  cycle 2/2  run 4/4',
      '✓ ok cycle 2',
    ]);
    // The summary lists each failure with its server log.
    const [id] = campaigns(cwd) as [string];
    const results = join(cwd, 'results', id);
    expect(run.stdout).toMatch(/^2 completed, 2 failed, 0 skipped, 0 left;/m);
    expect(run.stdout).toContain(`  fail#1  runtime: E_SERVER_EXITED  the server exited with code 1 during launch: fatal: the fake server gives up\n    ${join(results, 'fail-c1-t1', 'server-tail.log')}`);
    expect(run.stdout).toContain(`  fail#2  runtime: E_SERVER_EXITED  `);
    expect(entries(manifestOf(cwd, id))).toEqual([
      ['fail#1', 'failed', 1],
      ['fail#2', 'failed', 1],
      ['ok#1', 'completed', 1],
      ['ok#2', 'completed', 1],
    ]);
  });

  describe('a run longer than run_timeout_s', () => {
    let cwd: string;
    let results: string;
    let doc: {status: string; exitCode: number; report: {failures: Array<{key: string; category: string; code: string; serverLog: string | null}>}};

    beforeAll(() => {
      // Each streamed token takes 5 s, the readiness probe's included: the launch alone outlasts
      // the 3 s limit many times over, as a slow model load does.
      cwd = project('slow', `cycles: 1\nrun_timeout_s: 3\nretry:\n  max_attempts: 0\n`);
      writeFileSync(join(cwd, 'slow.yaml'), readFileSync(join(cwd, 'slow.yaml'), 'utf8').replace('fake:\n', 'fake:\n  chunk_ms: 5000\n'));
      const run = lem(['campaign', 'run', 'slow.yaml', '--json'], {home, cwd});
      expect(run.status, run.stderr).toBe(1);
      doc = JSON.parse(run.stdout) as typeof doc;
      results = join(cwd, 'results', campaigns(cwd)[0]!);
    });

    it('fails as runtime (E_RUN_TIMEOUT), stops its server, and --json is one document', () => {
      expect(doc).toMatchObject({status: 'completed', exitCode: 1});
      expect(doc.report.failures).toEqual([expect.objectContaining({key: 'slow#1', category: 'runtime', code: 'E_RUN_TIMEOUT'})]);
      const [entry] = manifestOf(cwd, campaigns(cwd)[0]!).entries;
      expect(entry).toMatchObject({status: 'failed', attempts: 1, category: 'runtime', code: 'E_RUN_TIMEOUT'});
      expect(fakeServers()).toEqual([]);
    });

    it("keeps the server's last lines beside its result.json, as every failure does", () => {
      expect(doc.report.failures[0]!.serverLog).toBe(join(results, 'slow-c1-t1', 'server-tail.log'));
      expect(readFileSync(join(results, 'slow-c1-t1', 'server-tail.log'), 'utf8')).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/m);
    });
  });
});

describe('unfinished campaigns', () => {
  let cwd: string;
  let first: string;
  const stopAtOnce = `cycles: 2\nretry:\n  max_attempts: 0\nfailure_threshold:\n  ratio: 0\n  min_finished: 1\n`;

  it('lem campaign run of a file whose campaign is unfinished refuses with the way to resume it; --fresh starts another', () => {
    cwd = project('again', stopAtOnce);
    writeFileSync(join(cwd, 'again.yaml'), readFileSync(join(cwd, 'again.yaml'), 'utf8').replace('fake:\n', 'fake:\n  mode: fail\n'));
    expect(lem(['campaign', 'run', 'again.yaml'], {home, cwd}).status).toBe(3);
    [first] = campaigns(cwd) as [string];
    const refused = lem(['campaign', 'run', 'again.yaml'], {home, cwd});
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^Error E_CAMPAIGN_UNFINISHED: .*again\.yaml has an unfinished campaign/m);
    expect(refused.stderr).toContain(`Try: lem resume ${first}`);
    expect(refused.stderr).toContain('Try: lem campaign run again.yaml --fresh');
    expect(campaigns(cwd)).toEqual([first]);
    const fresh = lem(['campaign', 'run', 'again.yaml', '--fresh'], {home, cwd});
    expect(fresh.status, fresh.stderr).toBe(3);
    expect(campaigns(cwd)).toHaveLength(2);
  });

  it('lem resume without an id and without a terminal lists the unfinished campaigns and asks which', () => {
    const ids = campaigns(cwd);
    const run = lem(['resume'], {home, cwd});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Error E_CAMPAIGN_WHICH: 2 unfinished campaigns; say which:/m);
    for (const id of ids) {
      expect(run.stderr).toMatch(new RegExp(`^${id}\\s+again\\s+stopped\\s+\\d/2\\s+1\\s+0\\s+\\d{4}-`, 'm'));
      expect(run.stderr).toContain(`Try: lem resume ${id}`);
    }
    // Nothing was resumed.
    for (const id of ids) expect(manifestOf(cwd, id).status).toBe('stopped');
  });
});
