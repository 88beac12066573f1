/**
 * The experiment pipeline through the real `lem` binary, for what a run must never lose or get
 * wrong: raw files written as the run goes (a kill -9 keeps them), a warm-up that always ends,
 * warm-up prompts disjoint from the measured ones, launch energy attributed to the server, the
 * settle time before idle, and refusals before anything starts. Real llama.cpp on the tiny model
 * where it can show the point; a small OpenAI-compatible server (core's runner/__fixtures__/openai-server.mjs)
 * where it cannot.
 */
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {setTimeout as sleep} from 'node:timers/promises';
import {beforeAll, describe, expect, it} from 'vitest';
import {externalPlugin, freshHome, lem, LEM_BIN} from './helpers.js';
import {CCF_VCPU_COEFFICIENTS} from '../../core/src/meters/cpu-estimate.js';

const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
const fakeServer = fileURLToPath(new URL('../../core/src/runner/__fixtures__/openai-server.mjs', import.meta.url));
const FAST = `warmup:\n  mode: fixed\n  requests: 2\nmeasure:\n  baseline_s: 0.5\n  idle_settle_s: 0.2\n  sample_interval_ms: 50\n`;
let home: string;
let dir: string;

interface Result {
  status: string;
  failure: {code: string; category: string} | null;
  phases: Array<{name: string; startMs: number; endMs: number; energy?: {energyJ: number | null; channels: Array<{meter: string; energyJ: number | null}>}}>;
  boundaries: Array<{label: string; atMs: number}>;
  prompts: {measure: {count: number; lengths: string}; warmup: {count: number; source: string}} | null;
  warmup: {mode: string; requests: number; warmupConverged: boolean | null; finalCv: number | null; finalCvReason?: string} | null;
  metrics: {
    window: {startMs: number; endMs: number};
    requests: {ok: number};
    energy: {available: boolean; idlePowerW: number; idlePowerStdW: number | null; window: {startMs: number; endMs: number}; channels: Array<{scope: string}>};
  } | null;
  warnings: Array<{code: string; message: string}>;
}

const readResult = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as Result;
const runDirOf = (stdout: string) => (JSON.parse(stdout) as {runDir: string}).runDir;
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');

/** A backend plugin in plain JavaScript that starts openai-server.mjs with the options of its section. */
function fakeBackend(): string {
  return externalPlugin(
    'lem-backend-fake-openai',
    `export default async () => [{kind: 'backend', id: 'fake', displayName: 'Fake', gpu: 'none', local: true, jsonSchema: {type: 'object'},
      configSchema: {'~standard': {version: 1, vendor: 'hand', validate: (v) => ({value: v ?? {}})}},
      server: (cfg, ctx) => ({
        argv: [process.execPath, ${JSON.stringify(fakeServer)}, '--port', String(ctx.port), ...(cfg.burn_cpu_s ? ['--burn-cpu-s', String(cfg.burn_cpu_s)] : []), ...(cfg.log ? ['--log', cfg.log] : []), ...(cfg.tokenize ? ['--tokenize'] : [])],
        env: {}, port: ctx.port, readiness: {healthPath: '/health', timeoutS: 30}, stop: {signal: 'SIGTERM', graceS: 2},
        ...(cfg.tokenize ? {tokenizePath: '/tokenize'} : {}),
      })}];\n`,
  );
}

beforeAll(async () => {
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-pipeline-'));
  const {writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: (p: string, o: {seed: number}) => Promise<unknown>};
  await writeTinyModel(join(dir, 'tiny.gguf'), {seed: 1});
  expect(lem(['plugins', 'link', fakeBackend(), '--no-install'], {home}).status).toBe(0);
});

function experiment(name: string, body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\n${body}`);
  return file;
}

describe('a run on the tiny model', () => {
  it('with one-token outputs ends: the convergence warm-up counts attempts and says it could not converge', () => {
    const file = experiment('one-token', `model: tiny.gguf\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\nllamacpp:\n  threads: 1\n`);
    const run = lem(['experiment', file, '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const result = readResult(runDirOf(run.stdout));
    expect(result.warmup).toMatchObject({mode: 'convergence', warmupConverged: false, finalCv: null});
    expect(result.warmup!.finalCvReason).toMatch(/no-itl/);
    expect(result.warmup!.requests).toBeLessThanOrEqual(20);
    expect(result.warnings.map((w) => w.code)).toContain('W_WARMUP_NOT_CONVERGED');
  });

  it('settles before the idle baseline, reports idle power with its spread, scopes its energy, and leaves no work folder', () => {
    const file = experiment('settle', `model: tiny.gguf\ndataset:\n  kind: builtin\n  n_prompts: 6\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 8\n${FAST.replace('idle_settle_s: 0.2', 'idle_settle_s: 0.4')}llamacpp:\n  threads: 1\n`);
    const run = lem(['experiment', file], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    // The table says what the energy covers.
    expect(run.stdout).toMatch(/energy scope\s+cpu-estimate\/server: process-group/);
    const runDir = run.stdout.match(/^Result: (.+)$/m)![1]!.trim();
    const result = readResult(runDir);
    expect(result.phases.map((p) => p.name)).toEqual(['launch', 'warmup', 'settle', 'idle', 'rewarm', 'measure', 'teardown']);
    const settle = result.phases.find((p) => p.name === 'settle')!;
    const idle = result.phases.find((p) => p.name === 'idle')!;
    expect(settle.endMs - settle.startMs).toBeGreaterThanOrEqual(400);
    expect(idle.startMs).toBeGreaterThanOrEqual(settle.endMs);
    expect(result.metrics!.energy.idlePowerW).toBeGreaterThan(0);
    expect(result.metrics!.energy.idlePowerStdW).toBeGreaterThanOrEqual(0);
    expect(result.metrics!.energy.channels.map((c) => c.scope)).toEqual(['process-group']);
    // The work folder of the launch is gone once the run is over.
    expect(readdirSync(join(dir, '.lem-state', 'work'))).toEqual([]);
  });

  it('makes synthetic prompts exactly input_tokens long by the server\'s tokenizer', () => {
    const file = experiment('exact', `model: tiny.gguf\ndataset:\n  kind: synthetic\n  input_tokens: 24\n  n_prompts: 5\nworkload:\n  max_output_tokens: 4\n${FAST}llamacpp:\n  threads: 1\n`);
    const run = lem(['experiment', file, '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const runDir = runDirOf(run.stdout);
    expect(readResult(runDir).prompts!.measure).toMatchObject({count: 5, lengths: 'exact'});
    // The server counts the prompt as sent, plus its BOS token; a word per token would be far longer on this vocabulary.
    const measured = lines(join(runDir, 'requests.jsonl')).map((l) => JSON.parse(l) as {phase: string; promptTokens: number}).filter((r) => r.phase === 'measure');
    for (const r of measured) expect(r.promptTokens).toBeGreaterThanOrEqual(23);
    for (const r of measured) expect(r.promptTokens).toBeLessThanOrEqual(25);
  });

  it('a kill -9 in the measure phase leaves requests.jsonl and timeline.csv holding what was measured until then', async () => {
    const project = join(dir, 'k9');
    mkdirSync(join(project, '.lem-state'), {recursive: true});
    const file = experiment('k9run', `model: ${join(dir, 'tiny.gguf')}\ndataset:\n  kind: builtin\n  n_prompts: 120\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 48\n${FAST}llamacpp:\n  threads: 1\n`);
    const child = spawn(process.execPath, [LEM_BIN, 'experiment', file, '--quiet'], {cwd: project, env: {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CONFIG_DIR: join(home, 'config'), LEM_CACHE_DIR: join(home, 'cache'), LEM_LOCK_DIR: join(home, 'locks')}});
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const results = join(project, 'results');
    let requests = '';
    let measured = 0;
    // Until at least 5 measured requests are on disk (events, not time: the run writes them as they end).
    for (let i = 0; i < 600 && measured < 5; i++) {
      await sleep(50);
      const runs = existsSync(results) ? readdirSync(results) : [];
      if (runs[0]) requests = join(results, runs[0], 'requests.jsonl');
      measured = requests && existsSync(requests) ? lines(requests).filter((l) => l.includes('"phase":"measure"')).length : 0;
    }
    expect(measured).toBeGreaterThanOrEqual(5);
    const timeline = join(requests, '..', 'timeline.csv');
    const rowsBefore = lines(timeline).length;
    const recordsBefore = lines(requests).length;
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(join(requests, '..', 'result.json'))).toBe(false);
    // Everything seen before the kill is still there, whole: every line parses.
    const after = lines(requests);
    expect(after.length).toBeGreaterThanOrEqual(recordsBefore);
    for (const l of after) expect(() => JSON.parse(l)).not.toThrow();
    expect(lines(timeline).length).toBeGreaterThanOrEqual(rowsBefore);
    expect(rowsBefore).toBeGreaterThan(10);
  });
});

describe('a run on the fake OpenAI-compatible server', () => {
  it('attributes the energy of loading the model to the server, not to idle', () => {
    // The server spends 1.5 s of CPU time before it listens, as a model load does.
    const file = experiment('attribution', `backend: fake\nmodel: fake\ndataset:\n  kind: builtin\n  n_prompts: 4\nworkload:\n  max_output_tokens: 4\n${FAST}fake:\n  burn_cpu_s: 1.5\n`);
    const run = lem(['experiment', file, '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const result = readResult(runDirOf(run.stdout));
    const phase = (name: string) => result.phases.find((p) => p.name === name)!;
    const seconds = (name: string) => (phase(name).endMs - phase(name).startMs) / 1000;
    const estimateJ = (name: string) => phase(name).energy!.channels.find((c) => c.meter === 'cpu-estimate')!.energyJ!;
    const idleW = estimateJ('idle') / seconds('idle');
    // Launch energy above the idle power over the launch: at least 1 of the 1.5 CPU-seconds burnt, at (max − idle) W each.
    const {idleWPerVcpu, maxWPerVcpu} = CCF_VCPU_COEFFICIENTS;
    expect(estimateJ('launch') - idleW * seconds('launch')).toBeGreaterThan((maxWPerVcpu - idleWPerVcpu) * 1.0);
  });

  it('warms up on prompts that are never measured', () => {
    const log = join(dir, 'prompts.jsonl');
    const file = experiment('disjoint', `backend: fake\nmodel: fake\ndataset:\n  kind: builtin\n  n_prompts: 8\nworkload:\n  concurrency: 2\n  max_output_tokens: 4\n${FAST}fake:\n  log: ${log}\n`);
    const run = lem(['experiment', file, '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const received = lines(log).map((l) => (JSON.parse(l) as {prompt: string}).prompt);
    // Readiness probe, then warm-up and re-warm, then the 8 measured prompts, in that order.
    const measured = new Set(received.slice(-8));
    const before = received.slice(0, -8);
    expect(measured.size).toBe(8);
    expect(before.length).toBeGreaterThanOrEqual(4);
    for (const p of before) expect(measured.has(p)).toBe(false);
    expect(readResult(runDirOf(run.stdout)).prompts!.warmup.source).toBe('held-back');
  });

  it('refuses max_input_tokens before launch when the backend has no tokenizer', () => {
    const log = join(dir, 'never.jsonl');
    const file = experiment('notok', `backend: fake\nmodel: fake\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 16\n${FAST}fake:\n  log: ${log}\n`);
    const run = lem(['experiment', file], {home, cwd: dir});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('E_DATASET_NO_TOKENIZER');
    expect(run.stderr).toContain('backend fake');
    // No server was started for it (it would have logged the readiness probe).
    expect(existsSync(log)).toBe(false);
  });
});
