/**
 * The whole experiment through the real `lem` binary: the real llama.cpp server on the generated
 * tiny model, real HTTP, real processes. Short windows: timings here are not benchmarks.
 */
import {spawn, spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {externalPlugin, freshHome, lem, LEM_BIN} from './helpers.js';
import {compileFakeNvml, type FakeNvml} from '../../core/src/meters/__fixtures__/fake-nvml.js';
import {poissonSchedule} from '../../core/src/workload/schedule.js';

const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
let home: string;
let dir: string;
let model: string;

interface Result {
  status: string;
  engineMetrics: {path: string; samples: number; running: {mean: number; max: number} | null} | null;
  failure: {category: string; code: string; serverOutput: string[]} | null;
  metrics: {
    window: {durationS: number};
    requests: {sent: number; ok: number; failed: number};
    tokens: {output: number; source: string; meanOutput: number};
    outputTokensPerS: number;
    ttftMs: {p50: number};
    itlMs: {p50: number};
    energy: {available: boolean; estimated?: boolean; energyJ: number | null; idlePowerW?: number; energyPerOutputTokenJ?: number; reason?: string};
    flops: {available: boolean; estimated?: boolean; prefillFlops: number; decodeFlops: number};
    steadyState: {available: boolean; reason?: string};
  } | null;
  settings: Array<{key: string; value: unknown; source: {kind: string}}>;
  client: {pinning: {applied: boolean; lemCpus: number[]; serverCpus: number[]} | null; eventLoopDelay: {p99Ms: number} | null; clientCpuS: number | null};
  warnings: Array<{code: string}>;
  notes: string[];
  phases: Array<{name: string; energy?: {energyJ: number | null}}>;
}

function experiment(name: string, body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nmodel: tiny.gguf\n${body}`);
  return file;
}

function runDirOf(stdout: string): string {
  return (JSON.parse(stdout) as {runDir: string}).runDir;
}

function readResult(runDir: string): Result {
  return JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as Result;
}

/** True once a run under `results` has a measured request on disk. */
function measuring(results: string): boolean {
  const runs = existsSync(results) ? readdirSync(results) : [];
  const requests = runs[0] ? join(results, runs[0], 'requests.jsonl') : '';
  return requests !== '' && existsSync(requests) && readFileSync(requests, 'utf8').includes('"phase":"measure"');
}

function serverProcesses(): string[] {
  const r = spawnSync('pgrep', ['-af', 'backend-llamacpp/dist/server/main.js'], {encoding: 'utf8'});
  return r.stdout.split('\n').filter((l) => l.includes(dir));
}

/** Starts `lem` in its own project folder and waits until its server's pid file appears. */
async function startUntilServer(args: string[], project: string, env: NodeJS.ProcessEnv = {}) {
  const cwd = join(dir, project);
  mkdirSync(join(cwd, '.lem-state'), {recursive: true}); // its own project root
  const child = spawn(process.execPath, [LEM_BIN, ...args], {cwd, env: {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CACHE_DIR: join(home, 'cache'), LEM_LOCK_DIR: join(home, 'locks'), ...env}});
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const serversDir = join(cwd, '.lem-state', 'servers');
  let pid: number | undefined;
  for (let i = 0; i < 100 && pid === undefined; i++) {
    await sleep(100);
    const files = existsSync(serversDir) ? readdirSync(serversDir).filter((f) => f.endsWith('.json')) : [];
    if (files[0]) pid = (JSON.parse(readFileSync(join(serversDir, files[0]), 'utf8')) as {pid: number}).pid;
  }
  if (pid === undefined) throw new Error('the server never started');
  return {child, cwd, pid, exited, stdout: () => stdout};
}

const FAST = `warmup:\n  mode: fixed\n  requests: 2\nmeasure:\n  baseline_s: 0.5\n  idle_settle_s: 0.2\n  sample_interval_ms: 50\nllamacpp:\n  threads: 1\n`;

beforeAll(async () => {
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-exp-'));
  model = join(dir, 'tiny.gguf');
  const {writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: (p: string, o: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
});

afterAll(() => {
  for (const line of serverProcesses()) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
});

describe('lem experiment on the embedded llama.cpp server', () => {
  it('runs closed loop at concurrency 1, writes the three files, and recompute reproduces every figure', () => {
    const file = experiment('c1', `dataset:\n  kind: builtin\n  n_prompts: 12\n  max_input_tokens: 48\nworkload:\n  concurrency: 1\n  max_output_tokens: 16\n${FAST}`);
    const run = lem(['experiment', file, '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const runDir = runDirOf(run.stdout);
    expect(runDir.startsWith(join(dir, 'results', 'c1-'))).toBe(true);
    for (const f of ['result.json', 'requests.jsonl', 'timeline.csv']) expect(existsSync(join(runDir, f)), f).toBe(true);
    const result = readResult(runDir);
    expect(result.status).toBe('completed');
    const m = result.metrics!;
    expect(m.requests).toMatchObject({sent: 12, ok: 12, failed: 0});
    // ignore_eos from the backend's request extras: every request gives exactly max_output_tokens.
    expect(m.tokens).toMatchObject({output: 12 * 16, source: 'usage', meanOutput: 16});
    expect(m.outputTokensPerS).toBeGreaterThan(0);
    expect(m.ttftMs.p50).toBeGreaterThan(0);
    expect(m.itlMs.p50).toBeGreaterThan(0);
    // FLOPs from the GGUF's shape and the usage counts; an estimate, prefill and decode apart.
    expect(m.flops).toMatchObject({available: true, estimated: true});
    expect(m.flops.prefillFlops).toBeGreaterThan(0);
    expect(m.flops.decodeFlops).toBeGreaterThan(m.flops.prefillFlops / 100);
    // Windows this short have no steady state: null with the reason, not a made-up figure.
    expect(m.steadyState).toMatchObject({available: false, reason: 'shorter-than-10s'});
    // No RAPL on this machine: the CPU estimate, labelled as such, never a silent 0.
    expect(m.energy.available).toBe(true);
    expect(m.energy.estimated).toBe(true);
    expect(m.energy.energyJ).toBeGreaterThan(0);
    expect(m.energy.idlePowerW).toBeGreaterThan(0);
    expect(result.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(['W_SHORT_WINDOW', 'W_ENERGY_ESTIMATED']));
    // The confidence interval a single run lacks is a campaign's business: no experiment speaks of it.
    expect(result.notes.join(' ')).not.toMatch(/confidence interval/i);
    expect(run.stdout + run.stderr).not.toMatch(/confidence interval/i);
    expect(result.phases.map((p) => p.name)).toEqual(['launch', 'warmup', 'settle', 'idle', 'rewarm', 'measure', 'teardown']);
    // Each phase carries its own energy from its boundary reads; the measure phase's is the window's.
    for (const p of result.phases) expect(p.energy?.energyJ, p.name).toBeGreaterThan(0);
    expect(result.phases.find((p) => p.name === 'measure')!.energy!.energyJ).toBe(m.energy.energyJ);
    expect(result.settings.find((s) => s.key === 'workload.concurrency')).toMatchObject({value: 1});

    const lines = readFileSync(join(runDir, 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {phase: string});
    expect(lines.filter((l) => l.phase === 'measure')).toHaveLength(12);
    expect(lines.filter((l) => l.phase === 'warmup')).toHaveLength(2);
    const timeline = readFileSync(join(runDir, 'timeline.csv'), 'utf8').trim().split('\n');
    expect(timeline[0]).toMatch(/^scheduled_ms,/);
    expect(timeline.length).toBeGreaterThan(10);

    const recompute = lem(['results', 'recompute', runDir], {home, cwd: dir});
    expect(recompute.status, recompute.stderr).toBe(0);
    expect(recompute.stdout).toContain('reproduced');
    // A figure edited in result.json is caught.
    const edited = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as Result;
    edited.metrics!.outputTokensPerS *= 2;
    writeFileSync(join(runDir, 'result.json'), JSON.stringify(edited));
    const mismatch = lem(['results', 'recompute', runDir], {home, cwd: dir});
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toContain('E_RESULT_MISMATCH');
    expect(mismatch.stderr).toContain('metrics.outputTokensPerS');
    expect(serverProcesses()).toEqual([]);
  });

  it('keeps concurrency 4 requests in flight in the measure phase', () => {
    const file = experiment('c4', `dataset:\n  kind: builtin\n  n_prompts: 16\n  max_input_tokens: 32\nworkload:\n  concurrency: 4\n  max_output_tokens: 24\n${FAST}`);
    const run = lem(['experiment', file], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const runDir = run.stdout.match(/^Result: (.+)$/m)![1]!.trim();
    // On screen: each warning once (the result table's), and no confidence-interval note.
    const warnings = readResult(runDir).warnings.map((w) => w.code);
    expect(warnings.length).toBeGreaterThan(0);
    expect([...run.stdout.matchAll(/warning (W_[A-Z_]+):/g)].map((m) => m[1])).toEqual(warnings);
    expect(run.stdout + run.stderr).not.toMatch(/confidence interval/i);
    const records = readFileSync(join(runDir, 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {phase: string; sendMs: number; endMs: number});
    const measured = records.filter((r) => r.phase === 'measure');
    expect(measured).toHaveLength(16);
    // At the moment the 4th request is sent, the first three are still in flight.
    const maxInFlight = Math.max(...measured.map((r) => measured.filter((o) => o.sendMs <= r.sendMs && o.endMs > r.sendMs).length));
    expect(maxInFlight).toBe(4);
    expect(readResult(runDir).metrics!.tokens.output).toBe(16 * 24);
    // The engine's own figures, read from its /metrics from the first measured send: never more in the engine than lem keeps in flight.
    const engine = readResult(runDir).engineMetrics!;
    const rows = readFileSync(join(runDir, 'engine-metrics.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    expect(engine).toMatchObject({path: '/metrics', format: 'prometheus', samples: rows.length, failedSamples: 0, kvCacheUsage: null});
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const [, running, waiting] of rows) expect(running! + waiting!).toBeLessThanOrEqual(4);
    expect(engine.running!.max).toBeLessThanOrEqual(4);
  });

  it('runs open loop at a request rate, on its seeded schedule', () => {
    const file = experiment('open', `dataset:\n  kind: builtin\n  n_prompts: 20\n  max_input_tokens: 32\nworkload:\n  request_rate: 40\n  max_output_tokens: 8\n${FAST}`);
    const run = lem(['experiment', file, '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const runDir = runDirOf(run.stdout);
    // requests.jsonl is in completion order; arrival order is id order.
    const measured = readFileSync(join(runDir, 'requests.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {id: number; phase: string; scheduledMs: number; sendMs: number})
      .filter((r) => r.phase === 'measure')
      .sort((a, b) => a.id - b.id);
    expect(measured).toHaveLength(20);
    // The arrivals are exactly the seeded Poisson schedule (workload.seed 0), from the first one on;
    // how late the driver sends under load is the driver benchmark's figure, not a bound here.
    const schedule = poissonSchedule(20, 40, 0);
    measured.forEach((r, i) => expect(r.scheduledMs - measured[0]!.scheduledMs).toBeCloseTo(schedule[i]!, 6));
    for (const r of measured) expect(r.sendMs).toBeGreaterThanOrEqual(r.scheduledMs);
  });

  it("serves, hashes and records the backend's model_path, relative to the file that gives it", () => {
    // The experiment lives in a folder of its own and lem runs from another: the path must hang from the file.
    mkdirSync(join(dir, 'sub', 'variants'), {recursive: true});
    const variant = join(dir, 'sub', 'variants', 'tiny-variant.gguf');
    writeFileSync(variant, readFileSync(model));
    const file = join(dir, 'sub', 'variant.yaml');
    writeFileSync(file, `name: variant\nmodel: ../missing-base.gguf\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 4\n${FAST}  model_path: variants/tiny-variant.gguf\n`);
    const run = lem(['experiment', file, '--json'], {home, cwd: home});
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const result = readResult(runDirOf(run.stdout)) as Result & {model: {ref: string}; provenance: {model: {kind: string; path: string}}};
    expect(result.model.ref).toBe(variant);
    expect(result.provenance.model).toMatchObject({kind: 'file', path: variant});
    expect(result.settings.find((s) => s.key === 'llamacpp.model_path')?.value).toBe(variant);
  });

  it('--dry-run shows every setting with its source and starts nothing', () => {
    const file = experiment('dry', `workload:\n  concurrency: 2\n${FAST}`);
    const run = lem(['experiment', file, '--dry-run', '--set', 'workload.max_output_tokens=7'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^workload\.concurrency\s+2\s+dry\.yaml:4:16$/m);
    expect(run.stdout).toMatch(/^workload\.max_output_tokens\s+7\s+--set workload\.max_output_tokens$/m);
    expect(run.stdout).toMatch(/^measure\.sample_interval_ms\s+50\s+/m);
    expect(run.stdout).toMatch(/^dataset\.kind\s+builtin\s+default$/m);
    // The server it would start: the backend's own command line for these settings, placeholders for what a launch decides.
    expect(run.stdout).toMatch(/^server: llamacpp on the local runner$/m);
    expect(run.stdout).toMatch(/^command: \S+ \S+main\.js --model \S+tiny\.gguf --host 127\.0\.0\.1 --port <port> --threads 1 --parallel \d+ --gpu-layers /m);
    expect(run.stdout).toContain('nothing was started');
    expect(existsSync(join(dir, 'results', 'dry'))).toBe(false);
  });
});

describe('bad input and failures', () => {
  it('a dataset file with a missing column fails before launch, with the columns that exist', () => {
    writeFileSync(join(dir, 'p.jsonl'), '{"question": "why?"}\n{"question": "how?"}\n');
    const file = experiment('badcol', `dataset:\n  kind: file\n  path: p.jsonl\n  column: prompt\n${FAST}`);
    const run = lem(['experiment', file], {home, cwd: dir});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/E_DATASET_INVALID/);
    expect(run.stderr).toContain('question');
    expect(serverProcesses()).toEqual([]);
    // Nothing was launched, and the attempt is recorded as a failed run of category config.
    const result = readResult(join(dir, 'results', readdirSync(join(dir, 'results')).find((d) => d.startsWith('badcol-'))!));
    expect(result.status).toBe('failed');
    expect(result.failure).toMatchObject({category: 'config', code: 'E_DATASET_INVALID'});
  });

  it('a model path that does not exist fails before a server starts', () => {
    writeFileSync(join(dir, 'nomodel.yaml'), `name: nomodel\nmodel: models/absent.gguf\n${FAST}`);
    const missing = lem(['experiment', join(dir, 'nomodel.yaml')], {home, cwd: dir});
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('Error E_MODEL_NOT_FOUND');
    expect(missing.stderr).toContain(join(dir, 'models', 'absent.gguf'));
    expect(serverProcesses()).toEqual([]);
  });

  it('an empty dataset is a coded error', () => {
    writeFileSync(join(dir, 'empty.txt'), '\n\n');
    const run = lem(['experiment', experiment('empty', `dataset:\n  kind: file\n  path: empty.txt\n${FAST}`)], {home, cwd: dir});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('E_DATASET_EMPTY');
  });

  it('an unreachable base_url fails the run as runtime and records it', () => {
    const file = join(dir, 'unreach.yaml');
    writeFileSync(file, `name: unreach\nbackend: openai\nbase_url: http://127.0.0.1:9/v1\nmodel: tiny\n${FAST.replace(/llamacpp:[\s\S]*$/, '')}`);
    const run = lem(['experiment', file], {home, cwd: dir});
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Error E_WARMUP_FAILED/);
    const runDir = join(dir, 'results', readdirSync(join(dir, 'results')).find((d) => d.startsWith('unreach-'))!);
    const result = readResult(runDir);
    expect(result.status).toBe('failed');
    expect(result.failure).toMatchObject({category: 'runtime', code: 'E_WARMUP_FAILED'});
  });

  it('a server that never becomes ready fails with E_SERVER_NOT_READY and leaves nothing running', () => {
    const script = join(dir, 'never-ready.mjs');
    writeFileSync(script, "import http from 'node:http';\nconst port = Number(process.argv[2]);\nhttp.createServer((q, s) => { s.statusCode = 503; s.end('loading'); }).listen(port, '127.0.0.1');\nconsole.log('pretending to load');\nsetInterval(() => console.log('still loading'), 200);\n");
    const plugin = externalPlugin(
      'lem-backend-stuck-server',
      `export default async () => [{kind: 'backend', id: 'stuck', displayName: 'Stuck', gpu: 'none', local: true, jsonSchema: {type: 'object'},
        configSchema: {'~standard': {version: 1, vendor: 'hand', validate: (v) => ({value: v ?? {}})}},
        server: (cfg, ctx) => ({argv: [process.execPath, ${JSON.stringify(script)}, String(ctx.port)], env: {}, port: ctx.port, readiness: {healthPath: '/health', timeoutS: 2}, stop: {signal: 'SIGTERM', graceS: 1}})}];\n`,
    );
    const h = freshHome();
    expect(lem(['plugins', 'link', plugin, '--no-install'], {home: h}).status).toBe(0);
    const file = join(dir, 'stuck.yaml');
    writeFileSync(file, `name: stuck\nbackend: stuck\nmodel: x\n${FAST.replace(/llamacpp:[\s\S]*$/, '')}`);
    const run = lem(['experiment', file], {home: h, cwd: dir});
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('E_SERVER_NOT_READY');
    const result = readResult(join(dir, 'results', readdirSync(join(dir, 'results')).find((d) => d.startsWith('stuck-'))!));
    expect(result.failure?.category).toBe('runtime');
    expect(result.failure?.serverOutput.join('\n')).toContain('still loading');
    expect(spawnSync('pgrep', ['-f', script]).status).toBe(1);
  });

  it('a server killed mid-run fails the run (E_SERVER_DIED) and lem exits 1', async () => {
    const file = experiment('killed', `dataset:\n  kind: builtin\n  n_prompts: 30\n  max_input_tokens: 32\nworkload:\n  concurrency: 1\n  max_output_tokens: 200\n${FAST.replace('baseline_s: 0.5', 'baseline_s: 1')}`);
    const {cwd, pid, exited, stdout} = await startUntilServer(['experiment', file, '--json'], 'killed-project');
    // Into the measure phase: its first record is on disk as soon as it completes.
    for (let i = 0; i < 600 && !measuring(join(cwd, 'results')); i++) await sleep(50);
    expect(measuring(join(cwd, 'results'))).toBe(true);
    process.kill(pid, 'SIGKILL');
    const code = await exited;
    expect(code).toBe(1);
    const json = JSON.parse(stdout()) as {error: {code: string}};
    expect(json.error.code).toBe('E_SERVER_DIED');
    const runDir = join(cwd, 'results', readdirSync(join(cwd, 'results')).find((d) => d.startsWith('killed-'))!);
    expect(readResult(runDir).failure).toMatchObject({code: 'E_SERVER_DIED', category: 'runtime'});
  });

  it('kill -9 of lem leaves no server behind', async () => {
    const file = experiment('kill9', `dataset:\n  kind: builtin\n  n_prompts: 100\nworkload:\n  max_output_tokens: 100\n${FAST.replace('baseline_s: 0.5', 'baseline_s: 30')}`);
    const {child, pid} = await startUntilServer(['experiment', file, '--quiet'], 'k9-project');
    child.kill('SIGKILL');
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      await sleep(100);
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });

  it('an uncached hub dataset fails before anything launches, naming both ways out', () => {
    const run = lem(['experiment', experiment('hub', `dataset:\n  kind: aienergyscore\n  n_prompts: 10\n${FAST}`)], {home: freshHome(), cwd: dir});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('E_DATASET_NOT_CACHED');
    expect(run.stderr).toMatch(/Try: .*lem datasets fetch aienergyscore/);
    expect(run.stderr).toMatch(/Try: .*kind: builtin/);
    expect(serverProcesses()).toEqual([]);
  });

  it('a second run on the same device is refused while the first measures (E_DEVICE_BUSY)', async () => {
    const file = experiment('busy', `dataset:\n  kind: builtin\n  n_prompts: 10\n${FAST.replace('baseline_s: 0.5', 'baseline_s: 30')}`);
    const {child, exited} = await startUntilServer(['experiment', file, '--quiet'], 'busy-project');
    try {
      const second = lem(['experiment', experiment('busy2', FAST)], {home, cwd: dir});
      expect(second.status).toBe(1);
      expect(second.stderr).toContain('E_DEVICE_BUSY');
      expect(second.stderr).toContain(`pid ${child.pid}`);
      expect(second.stderr).toContain('--wait-for-devices');
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  });

  it('Ctrl+C stops the experiment and its server, records it as interrupted, and exits 130', async () => {
    const file = experiment('sigint', `dataset:\n  kind: builtin\n  n_prompts: 10\n${FAST.replace('baseline_s: 0.5', 'baseline_s: 30')}`);
    const {child, cwd, pid, exited} = await startUntilServer(['experiment', file, '--quiet'], 'sigint-project');
    await sleep(1500); // into the 30 s idle baseline
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(() => process.kill(pid, 0)).toThrow();
    const runDir = join(cwd, 'results', readdirSync(join(cwd, 'results')).find((d) => d.startsWith('sigint-'))!);
    expect(readResult(runDir).failure).toMatchObject({category: 'interrupted'});
  });
});

describe('backend: openai', () => {
  it('measures an endpoint already running on loopback, attributing CPU energy to the process that listens', async () => {
    const server = spawn(process.execPath, [LEM_BIN, 'llamacpp', 'serve', '--model', model, '--port', '0', '--threads', '1'], {env: {...process.env, LEM_DATA_DIR: join(home, 'data')}});
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        server.on('exit', () => reject(new Error(`server exited: ${out}`)));
      });
      // Short prompts from a file: lem cannot truncate through an endpoint it did not start (no tokenizer path).
      writeFileSync(join(dir, 'short.txt'), Array.from({length: 8}, (_, i) => `Say something about the number ${i}.`).join('\n'));
      const file = join(dir, 'endpoint.yaml');
      writeFileSync(file, `name: endpoint\nbackend: openai\nbase_url: ${base}/v1\nmodel: tiny\ndataset:\n  kind: file\n  path: short.txt\nworkload:\n  max_output_tokens: 8\n${FAST.replace(/llamacpp:[\s\S]*$/, '')}`);
      const run = lem(['experiment', file, '--json'], {home, cwd: dir});
      expect(run.status, run.stderr).toBe(0);
      const result = readResult(runDirOf(run.stdout));
      expect(result.metrics!.requests.ok).toBe(8);
      expect(result.metrics!.energy).toMatchObject({available: true, estimated: true});
      // No runner: nothing of lem's was pinned or started.
      expect(result.client.pinning).toBeNull();
    } finally {
      server.kill('SIGKILL');
    }
    // Even a SIGKILL of `lem llamacpp serve` takes its server process with it (parent-death signal).
    let left = serverProcesses();
    for (let i = 0; i < 30 && left.length > 0; i++) {
      await sleep(100);
      left = serverProcesses();
    }
    expect(left).toEqual([]);
  });

  it('refuses base_url for a backend lem starts, and requires it for openai', () => {
    const a = lem(['config', 'validate', experiment('baseurl', 'base_url: http://127.0.0.1:1/v1\n')], {home, cwd: dir});
    expect(a.status).toBe(2);
    expect(a.stderr).toContain('base_url is for `backend: openai`');
    const b = lem(['config', 'validate', experiment('nourl', 'backend: openai\n')], {home, cwd: dir});
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('needs base_url');
  });
});


describe('GPUs through NVML (a fake libnvidia-ml with NVML ABI, the real FFI path)', () => {
  let fake: FakeNvml;
  let scriptPath: string;
  beforeAll(() => {
    fake = compileFakeNvml();
    scriptPath = fake.use({
      driver: '555.42.06',
      devices: [
        // GPU 0: 150 W steady, throttled by hardware slowdown, one foreign process (pid 1 is never the server).
        {uuid: 'GPU-11111111-2222-3333-4444-555555555555', name: 'Fake H100', powerW: 150, tempC: 61, smClockMhz: 1980, clockReasons: 0x8, pids: [{pid: 1, usedBytes: 1 << 20}], powerLimitMw: 700_000, persistence: 1},
        {uuid: 'GPU-99999999-8888-7777-6666-555555555555', name: 'Fake H100', powerW: 80},
      ],
    });
  });
  afterAll(() => fake.cleanup());
  const gpuEnv = () => ({LEM_NVML_LIBRARY: fake.libraryPath, FAKE_NVML_SCRIPT: scriptPath});

  it('measures exactly the selected GPU, with its extras, warnings and provenance', () => {
    // A window of ~1 s, so that several 50 ms samples (temperature, throttling, processes) fall inside it.
    const file = experiment('gpu', `gpus: [0]\ndataset:\n  kind: builtin\n  n_prompts: 40\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 64\n${FAST.replace('threads: 1', 'threads: 1\n  gpu_layers: 0')}`);
    const run = lem(['experiment', file, '--json'], {home, cwd: dir, env: gpuEnv()});
    expect(run.status, run.stderr).toBe(0);
    const runDir = runDirOf(run.stdout);
    const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as Result & {
      metrics: {energy: {channels: Array<{meter: string; channel: string; energyJ: number}>}; gpus: Array<{uuid: string; throttledS: Record<string, number>; foreignProcessesMax: number; temperatureC: {max: number}}>};
      boundaries: Array<{label: string; atMs: number}>;
      provenance: {gpus: Array<{uuid: string; name: string; driverVersion: string; powerLimitW: number}>};
    };
    const nvml = result.metrics.energy.channels.filter((c) => c.meter === 'nvml');
    expect(nvml.map((c) => c.channel)).toEqual(['GPU-11111111-2222-3333-4444-555555555555']);
    const start = result.boundaries.find((b) => b.label === 'measure:start')!.atMs;
    const end = result.boundaries.find((b) => b.label === 'measure:end')!.atMs;
    // 150 W × the boundary interval, within the counter's 100 ms quantisation at each edge.
    expect(nvml[0]!.energyJ).toBeGreaterThan(150 * ((end - start) / 1000) - 2 * 150 * 0.1);
    expect(nvml[0]!.energyJ).toBeLessThan(150 * ((end - start) / 1000) + 2 * 150 * 0.1);
    expect(result.metrics.gpus[0]).toMatchObject({uuid: 'GPU-11111111-2222-3333-4444-555555555555', foreignProcessesMax: 1, temperatureC: {max: 61}});
    expect(Object.keys(result.metrics.gpus[0]!.throttledS)).not.toHaveLength(0);
    expect(result.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(['W_THROTTLED', 'W_FOREIGN_GPU_PROCESSES']));
    expect(result.provenance.gpus).toEqual([expect.objectContaining({uuid: 'GPU-11111111-2222-3333-4444-555555555555', name: 'Fake H100', driverVersion: '555.42.06', powerLimitW: 700})]);
    const header = readFileSync(join(runDir, 'timeline.csv'), 'utf8').split('\n')[0]!;
    expect(header).toContain('temperature_c');
    expect(lem(['results', 'recompute', runDir], {home, cwd: dir}).status).toBe(0);
  });

  it('locks the CPU only when a CPU meter is measured: two GPU-only runs on different GPUs run at once', async () => {
    const first = experiment('gpu0only', `gpus: [0]\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 16\n${FAST.replace('baseline_s: 0.5', 'baseline_s: 30').replace('sample_interval_ms: 50', 'sample_interval_ms: 50\n  meters: [nvml]').replace('threads: 1', 'threads: 1\n  gpu_layers: 0')}`);
    const {child, exited} = await startUntilServer(['experiment', first, '--quiet'], 'gpu-lock-project', gpuEnv());
    try {
      const second = experiment('gpu1only', `gpus: [1]\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 16\n${FAST.replace('sample_interval_ms: 50', 'sample_interval_ms: 50\n  meters: [nvml]').replace('threads: 1', 'threads: 1\n  gpu_layers: 0')}`);
      const run = lem(['experiment', second, '--json'], {home, cwd: dir, env: gpuEnv()});
      expect(run.status, run.stderr).toBe(0);
      expect(readdirSync(join(home, 'locks'))).not.toContain('cpu.lock');
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  });

  it('an unknown GPU index and a missing driver are coded errors before launch', () => {
    const bad = lem(['experiment', experiment('gpu5', `gpus: [5]\n${FAST}`)], {home, cwd: dir, env: gpuEnv()});
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('E_GPU_NOT_FOUND');
    expect(bad.stderr).toContain('GPU-11111111-2222-3333-4444-555555555555');
    const none = lem(['experiment', experiment('gpunone', `gpus: [0]\n${FAST}`)], {home, cwd: dir, env: {LEM_NVML_LIBRARY: join(dir, 'no-such-libnvidia-ml.so.1')}});
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('E_GPU_UNAVAILABLE');
    expect(none.stderr).toContain('no NVIDIA driver');
    expect(serverProcesses()).toEqual([]);
  });
});
