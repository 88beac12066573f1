/**
 * `lem campaign run`, `lem resume`, `lem campaign status` and `lem results` through the real
 * binary, on the real llama.cpp server and the generated tiny model: the plan, the display, the
 * files a campaign leaves and what they say, resume across an interruption and its refusals,
 * and the refusals that run nothing. Runs are tiny and the gaps short, written in the files; the
 * real defaults are checked in dry runs, never slept through.
 */
import {createHash} from 'node:crypto';
import {spawn, spawnSync} from 'node:child_process';
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {freshHome, lem, LEM_BIN} from './helpers.js';

// csv-parse is core's dependency (not the CLI's): summary.csv is read back as a CSV reader reads it, as is.
const {parse} = createRequire(new URL('../../core/package.json', import.meta.url))('csv-parse/sync') as {
  parse: (text: string, options: {columns: true}) => Array<Record<string, string>>;
};

const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
let home: string;
let dir: string;
let model: string;
let writeTinyModel: (path: string, options: {seed: number}) => Promise<unknown>;

interface Plan {
  id: string;
  name: string;
  hash: string;
  etaS: number;
  varying: string[];
  cycles: {kind: string; count: number};
  runs: Array<{key: string; configuration: string; cycle: number; position: number; gapBeforeS: number; gapKind: string}>;
  configurations: Array<{name: string; estimateS: number; settings: Array<{key: string; value: unknown; from: string}>}>;
  campaignSettings: Array<{key: string; value: unknown; from: string}>;
}
interface Entry {
  key: string;
  configuration: string;
  cycle: number;
  position: number;
  status: string;
  attempts: number;
  durationS: number | null;
  resultPath: string | null;
}
interface Manifest {
  status: string;
  entries: Entry[];
}
interface RunResult {
  status: string;
  campaign: Record<string, unknown> | null;
  notes: string[];
  warnings: Array<{code: string; message: string}>;
  metrics: {outputTokensPerS: number; ttftMs: {p50: number}; energy: {energyPerOutputTokenJ: number}};
}

/** Settings every campaign here shares: tiny runs on one thread, a fixed one-request warm-up, a 0.2 s baseline. */
const tiny = () =>
  `model: ${model}\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 8\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\nllamacpp:\n  threads: 1\n`;

/** A folder of its own: each scenario is its own project (its own .lem-state/ and results/). */
function project(name: string): string {
  const cwd = join(dir, name);
  mkdirSync(cwd, {recursive: true});
  return cwd;
}

function write(cwd: string, file: string, text: string): string {
  writeFileSync(join(cwd, file), text);
  return join(cwd, file);
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
/** The campaigns' state folders of a project (those holding a plan). */
const campaigns = (cwd: string) => (existsSync(join(cwd, '.lem-state')) ? readdirSync(join(cwd, '.lem-state')).filter((d) => existsSync(join(cwd, '.lem-state', d, 'plan.json'))) : []);
const stateOf = (cwd: string, id: string) => ({
  plan: readJson<Plan>(join(cwd, '.lem-state', id, 'plan.json')),
  manifest: readJson<Manifest>(join(cwd, '.lem-state', id, 'manifest.json')),
  journal: readFileSync(join(cwd, '.lem-state', id, 'journal.jsonl'), 'utf8').trim().split('\n'),
});
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The display's duration format, for checking the ETAs shown. */
function duration(seconds: number): string {
  if (seconds > 0 && seconds < 0.95) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function llamaServers(): string[] {
  const r = spawnSync('pgrep', ['-af', 'backend-llamacpp/dist/server/main.js'], {encoding: 'utf8'});
  return r.stdout.split('\n').filter((l) => l.includes(dir));
}

/** A refusal before anything runs: exit 2, a stable code, a Try line, no stack trace. */
function expectRefusal(run: {status: number | null; stdout: string; stderr: string}, code: string): void {
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toMatch(new RegExp(`^Error ${code}: `, 'm'));
  expect(run.stderr).toMatch(/^Try: /m);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

beforeAll(async () => {
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-campaign-'));
  model = join(dir, 'tiny.gguf');
  ({writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: typeof writeTinyModel});
  await writeTinyModel(model, {seed: 1});
});

afterAll(() => {
  for (const line of llamaServers()) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
});

describe('lem campaign run --dry-run', () => {
  // No gaps and no baseline in the file: the plan shows the real defaults, and nothing waits for them.
  const body = () => `name: plan-me\nsweep:\n  workload.concurrency: [1, 2]\ncycles: 2\nmodel: ${model}\ndataset:\n  kind: builtin\n  n_prompts: 4\n`;

  it('prints every run in order with its cycle, configuration and gap, what varies, every setting with its source, and the ETA', () => {
    const cwd = project('plan');
    write(cwd, 'plan.yaml', body());
    const run = lem(['campaign', 'run', 'plan.yaml', '--dry-run', '--set', 'workload.max_output_tokens=7'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout;
    // The campaign's own settings, the real gap defaults among them.
    expect(out).toMatch(/^cycles\s+2\s+plan\.yaml:4:9$/m);
    expect(out).toMatch(/^gaps\.between_experiments_s\s+60\s+default$/m);
    expect(out).toMatch(/^gaps\.between_cycles_s\s+300\s+default$/m);
    // What varies, per configuration.
    expect(out).toMatch(/^CONFIGURATION\s+WORKLOAD\.CONCURRENCY\nconc1\s+1\nconc2\s+2$/m);
    // Every run in order, each gap before it: between experiments, then before cycle 2's first run.
    const runs = out.slice(out.indexOf('\nRuns\n') + 6, out.indexOf('\nETA ')).trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    expect(runs).toEqual(['# CONFIGURATION CYCLE SERVER', '1 conc1 1 fresh', 'gap 1m 00s (between experiments)', '2 conc2 1 fresh', 'gap 5m 00s (between cycles)', '3 conc1 2 fresh', 'gap 1m 00s (between experiments)', '4 conc2 2 fresh']);
    // Each configuration's effective settings with their sources: the sweep's value located in the file, --set, the file, defaults.
    const settingsOf = (name: string) => out.slice(out.indexOf(`Settings of ${name}\n`)).split('\n\n')[0]!;
    expect(settingsOf('conc1')).toMatch(/^workload\.concurrency\s+1\s+plan\.yaml:3:\d+$/m);
    expect(settingsOf('conc2')).toMatch(/^workload\.concurrency\s+2\s+plan\.yaml:3:\d+$/m);
    expect(settingsOf('conc2')).toMatch(/^workload\.max_output_tokens\s+7\s+--set workload\.max_output_tokens$/m);
    expect(settingsOf('conc2')).toMatch(/^dataset\.n_prompts\s+4\s+plan\.yaml:8:14$/m);
    expect(settingsOf('conc2')).toMatch(/^measure\.baseline_s\s+10\s+default$/m);
    // The ETA: the gaps (60 + 300 + 60 s) plus every run's estimate.
    expect(out).toMatch(/^ETA (\d+m \d\ds) \(gaps 7m 00s \+ runs by estimate\)$/m);
    expect(out).toContain('dry run: nothing was started');
    expect(campaigns(cwd)).toEqual([]);
    expect(existsSync(join(cwd, 'results'))).toBe(false);

    // --json: the same plan as one document.
    const json = lem(['campaign', 'run', 'plan.yaml', '--dry-run', '--json', '--set', 'workload.max_output_tokens=7'], {home, cwd});
    expect(json.status, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as {dryRun: boolean; plan: Plan; notes: string[]};
    expect(doc.dryRun).toBe(true);
    const plan = doc.plan;
    expect(plan.runs.map((r) => [r.position, r.configuration, r.cycle, r.gapBeforeS, r.gapKind])).toEqual([
      [1, 'conc1', 1, 0, 'none'],
      [2, 'conc2', 1, 60, 'experiments'],
      [3, 'conc1', 2, 300, 'cycles'],
      [4, 'conc2', 2, 60, 'experiments'],
    ]);
    expect(plan.varying).toEqual(['workload.concurrency']);
    expect(plan.campaignSettings).toEqual(expect.arrayContaining([{key: 'gaps.between_cycles_s', value: 300, from: 'default'}, {key: 'cycles', value: 2, from: 'plan.yaml:4:9'}]));
    for (const c of plan.configurations) {
      const setting = (key: string) => c.settings.find((s) => s.key === key);
      expect(setting('measure.baseline_s')).toEqual({key: 'measure.baseline_s', value: 10, from: 'default'});
      expect(setting('workload.concurrency')!.from).toMatch(/^plan\.yaml:3:\d+$/);
      expect(setting('model')).toEqual({key: 'model', value: model, from: 'plan.yaml:5:8'});
    }
    const estimate = new Map(plan.configurations.map((c) => [c.name, c.estimateS]));
    expect(plan.etaS).toBe(420 + plan.runs.reduce((s, r) => s + estimate.get(r.configuration)!, 0));
    // The plain ETA is the same figure.
    expect(out).toContain(`ETA ${duration(plan.etaS)} (gaps`);
    expect(campaigns(cwd)).toEqual([]);
  });
});

describe('a campaign on the tiny model, plain output', () => {
  let cwd: string;
  let id: string;
  let stdout: string;
  let stderr: string;
  let plan: Plan;
  let manifest: Manifest;
  const resultOf = (e: Entry) => readJson<RunResult>(join(cwd, 'results', id, e.resultPath!, 'result.json'));

  beforeAll(() => {
    cwd = project('grid');
    write(cwd, 'grid.yaml', `name: grid\nsweep:\n  workload.concurrency: [1, 2]\ncycles: 3\ngaps:\n  between_experiments_s: 0.1\n  between_cycles_s: 0.3\n${tiny()}`);
    const run = lem(['campaign', 'run', 'grid.yaml'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    ({stdout, stderr} = run);
    [id] = campaigns(cwd) as [string];
    ({plan, manifest} = stateOf(cwd, id));
  });

  it('shows each cycle, every gap and every run with the campaign, configuration, cycle c/C, position i/N and its ETA', () => {
    expect(id).toMatch(/^grid-\d{8}T\d{6}Z$/);
    expect(plan.id).toBe(id);
    expect(manifest.status).toBe('completed');
    expect(manifest.entries.map((e) => [e.key, e.status, e.attempts])).toEqual(plan.runs.map((r) => [r.key, 'completed', 1]));
    // The sequence as drawn: headers, gaps, run lines and their ends, nothing else and in this order.
    const skeleton = stdout
      .split('\n')
      .map((l) => {
        const header = l.match(/^=== Cycle (\d) of (\d) ===$/);
        if (header) return `cycle ${header[1]}/${header[2]}`;
        const gap = l.match(/^gap (\S+) between (cycles|experiments)$/);
        if (gap) return `gap ${gap[1]} ${gap[2]}`;
        const line = l.match(/^\[grid (\S+)\] (conc\d) {2}cycle (\d)\/(\d) {2}run (\d)\/(\d) {2}ETA (.+)$/);
        if (line) return `run ${line[1] === id ? 'ID' : line[1]} ${line[2]} ${line[3]}/${line[4]} ${line[5]}/${line[6]}`;
        const end = l.match(/^✓ (conc\d) cycle (\d) /);
        if (end) return `done ${end[1]} ${end[2]}`;
        return null;
      })
      .filter((x) => x !== null);
    expect(skeleton).toEqual([
      'cycle 1/3',
      'run ID conc1 1/3 1/6',
      'done conc1 1',
      'gap 0.1s experiments',
      'run ID conc2 1/3 2/6',
      'done conc2 1',
      'cycle 2/3',
      'gap 0.3s cycles',
      'run ID conc1 2/3 3/6',
      'done conc1 2',
      'gap 0.1s experiments',
      'run ID conc2 2/3 4/6',
      'done conc2 2',
      'cycle 3/3',
      'gap 0.3s cycles',
      'run ID conc1 3/3 5/6',
      'done conc1 3',
      'gap 0.1s experiments',
      'run ID conc2 3/3 6/6',
      'done conc2 3',
    ]);
    // Each ETA: the remaining gaps plus each remaining run × the mean duration of the completed runs
    // of its configuration (of all completed runs when it has none yet), from the durations recorded.
    const etas = [...stdout.matchAll(/^\[grid \S+\] .* {2}ETA (.+)$/gm)].map((m) => m[1]);
    const expected = plan.runs.map((at) => {
      const done = manifest.entries.filter((e) => e.position < at.position);
      let total = 0;
      for (const r of plan.runs.filter((x) => x.position >= at.position)) {
        const own = done.filter((e) => e.configuration === r.configuration).map((e) => e.durationS!);
        total += r.gapBeforeS + (own.length > 0 ? mean(own) : mean(done.map((e) => e.durationS!)));
      }
      return duration(Math.round(total));
    });
    expect(etas.slice(1)).toEqual(expected.slice(1));
    // The first has only the plan's estimates to go by.
    expect(etas[0]).toBe(duration(plan.etaS));
    expect(stderr).toBe('');
    expect(llamaServers()).toEqual([]);
  });

  it("shows each run's warnings once, and never a confidence-interval note (3 cycles: none at the top either)", () => {
    const starts = [...stdout.matchAll(/^\[grid /gm)].map((m) => m.index);
    expect(starts).toHaveLength(6);
    plan.runs.forEach((r, i) => {
      const block = stdout.slice(starts[i], starts[i + 1] ?? stdout.indexOf('\nCampaign grid: '));
      const shown = [...block.matchAll(/^ {2}warning (W_[A-Z_]+): /gm)].map((m) => m[1]).sort();
      const recorded = resultOf(manifest.entries.find((e) => e.key === r.key)!).warnings.map((w) => w.code).sort();
      expect(recorded.length, r.key).toBeGreaterThan(0);
      expect(shown, r.key).toEqual(recorded);
    });
    expect(stdout + stderr).not.toMatch(/confidence interval/i);
  });

  it('records the campaign context in every result.json, and no confidence-interval note', () => {
    for (const e of manifest.entries) {
      expect(e.resultPath).toBe(`${e.configuration}-c${e.cycle}-t1`);
      const result = resultOf(e);
      expect(result.status).toBe('completed');
      expect(result.campaign).toEqual({id, name: 'grid', configuration: e.configuration, cycle: e.cycle, cycles: 3, position: e.position, total: 6, planHash: plan.hash, attempt: 1});
      expect(JSON.stringify(result.notes)).not.toMatch(/confidence interval/i);
    }
  });

  it('writes summary.csv (n, mean, std, CV, 95 % Student-t CI, min, max per configuration × metric) and comparisons.csv paired by cycle', () => {
    const folder = join(cwd, 'results', id);
    const csv = readFileSync(join(folder, 'summary.csv'), 'utf8');
    expect(csv.split('\n')[0]).toBe('configuration,metric,unit,n,mean,std,cv,ci_low,ci_high,min,max');
    const rows = parse(csv, {columns: true});
    const values = (configuration: string, get: (r: RunResult) => number) =>
      manifest.entries.filter((e) => e.configuration === configuration).map((e) => get(resultOf(e)));
    const getters: Record<string, (r: RunResult) => number> = {
      energyPerOutputTokenJ: (r) => r.metrics.energy.energyPerOutputTokenJ,
      outputTokensPerS: (r) => r.metrics.outputTokensPerS,
      ttftP50Ms: (r) => r.metrics.ttftMs.p50,
    };
    for (const configuration of ['conc1', 'conc2']) {
      for (const [metric, get] of Object.entries(getters)) {
        const row = rows.find((x) => x.configuration === configuration && x.metric === metric)!;
        expect(row, `${configuration} ${metric}`).toBeDefined();
        const xs = values(configuration, get);
        const m = mean(xs);
        const std = Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
        // n is the number of completed cycles; the mean is the mean of the runs' own figures.
        expect(Number(row.n)).toBe(3);
        expect(Number(row.mean)).toBeCloseTo(m, 12);
        expect(Number(row.std) / std).toBeCloseTo(1, 9);
        expect(Number(row.min)).toBe(Math.min(...xs));
        expect(Number(row.max)).toBe(Math.max(...xs));
        // The 95 % CI half-width with Student's t at 2 degrees of freedom: t(0.975, 2) = 4.303.
        expect((Number(row.ci_high) - Number(row.mean)) / ((4.302652729911275 * std) / Math.sqrt(3))).toBeCloseTo(1, 6);
        expect(Number(row.mean) - Number(row.ci_low)).toBeCloseTo(Number(row.ci_high) - Number(row.mean), 9);
      }
    }
    const comparisons = parse(readFileSync(join(folder, 'comparisons.csv'), 'utf8'), {columns: true});
    expect(Object.keys(comparisons[0]!)).toEqual(['configuration_a', 'configuration_b', 'metric', 'unit', 'n_pairs', 'mean_difference', 'ci_low', 'ci_high', 'relative_pct']);
    // One pair, each headline metric: the mean of conc2 − conc1 cycle by cycle.
    expect(comparisons.map((c) => [c.configuration_a, c.configuration_b, c.metric])).toEqual([
      ['conc1', 'conc2', 'energyPerOutputTokenJ'],
      ['conc1', 'conc2', 'outputTokensPerS'],
      ['conc1', 'conc2', 'ttftP50Ms'],
      ['conc1', 'conc2', 'itlP50Ms'],
    ]);
    for (const [metric, get] of Object.entries(getters)) {
      const c = comparisons.find((x) => x.metric === metric)!;
      const byCycle = (configuration: string) => new Map(manifest.entries.filter((e) => e.configuration === configuration).map((e) => [e.cycle, get(resultOf(e))]));
      const a = byCycle('conc1');
      const b = byCycle('conc2');
      expect(Number(c.n_pairs)).toBe(3);
      expect(Number(c.mean_difference)).toBeCloseTo(mean([1, 2, 3].map((k) => b.get(k)! - a.get(k)!)), 9);
      expect(Number(c.ci_low)).toBeLessThan(Number(c.mean_difference));
      expect(Number(c.ci_high)).toBeGreaterThan(Number(c.mean_difference));
    }
    const summary = readJson<{campaign: {id: string; status: string}; counts: Record<string, number>}>(join(folder, 'summary.json'));
    expect(summary.campaign).toMatchObject({id, status: 'completed'});
    expect(summary.counts).toEqual({completed: 6});
  });

  it('lem results list, show and export, and lem campaign status, read it back', () => {
    const list = lem(['results', 'list', '--json'], {home, cwd});
    expect(list.status, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as {results: unknown[]}).results).toEqual([expect.objectContaining({id, kind: 'campaign', name: 'grid', status: 'completed', runs: 6})]);

    const show = lem(['results', 'show', id], {home, cwd});
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toContain('Campaign grid: completed');
    expect(show.stdout).toMatch(/^6 completed, 0 failed, 0 skipped, 0 left; energy \d+\.\d\d J/m);
    expect(show.stdout).toMatch(/^conc1\s+3\s+\d+\.\d{4} ± \d+\.\d{4}\s/m);
    expect(show.stdout).toMatch(/^conc2\s+3\s+\d+\.\d{4} ± \d+\.\d{4}\s/m);

    const csv = lem(['results', 'export', id, '--format', 'csv'], {home, cwd});
    expect(csv.status, csv.stderr).toBe(0);
    expect(csv.stdout).toBe(readFileSync(join(cwd, 'results', id, 'summary.csv'), 'utf8'));
    const json = lem(['results', 'export', id, '--format', 'json'], {home, cwd});
    expect(JSON.parse(json.stdout)).toEqual(readJson(join(cwd, 'results', id, 'summary.json')));

    const status = lem(['campaign', 'status', id, '--json'], {home, cwd});
    expect(status.status, status.stderr).toBe(0);
    const doc = JSON.parse(status.stdout) as {progress: {done: number; total: number; status: string}; entries: Array<{key: string; status: string; attempts: number; resultPath: string}>};
    expect(doc.progress).toMatchObject({done: 6, total: 6, status: 'completed'});
    expect(doc.entries.map((e) => [e.key, e.status, e.attempts, e.resultPath])).toEqual(manifest.entries.map((e) => [e.key, 'completed', 1, e.resultPath]));
    const all = lem(['campaign', 'status'], {home, cwd});
    expect(all.stdout).toMatch(new RegExp(`^${id}\\s+grid\\s+completed\\s+6/6\\s+0\\s+0\\s`, 'm'));
  });
});

describe('--quiet and --json', () => {
  it('--quiet prints nothing for a successful campaign and logs everything, at debug level, to campaign.log', () => {
    const cwd = project('quiet');
    write(cwd, 'quiet.yaml', `name: quiet\ncycles: 1\n${tiny()}`);
    const run = lem(['campaign', 'run', 'quiet.yaml', '--quiet'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('');
    const [id] = campaigns(cwd) as [string];
    expect(stateOf(cwd, id).manifest.entries.map((e) => e.status)).toEqual(['completed']);
    const log = readFileSync(join(cwd, '.lem-state', id, 'campaign.log'), 'utf8').trim().split('\n');
    for (const line of log) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO|WARN|ERROR) /);
    expect(log.filter((l) => / DEBUG run-start /.test(l))).toHaveLength(1);
    expect(log.filter((l) => / DEBUG quiet#1 \{"type":"phase","phase":"measure","state":"end"\}/.test(l))).toHaveLength(1);
    expect(log.filter((l) => / DEBUG campaign-end \{"status":"completed"/.test(l))).toHaveLength(1);
    // The campaign says once, at the top, that 1 cycle gives no useful CI; the single-run note is nowhere.
    expect(log.filter((l) => /confidence interval/i.test(l))).toHaveLength(1);
    expect(log[0]).toMatch(/DEBUG campaign quiet-\S+ started: .*1 cycle: a confidence interval needs at least 2 values/);
    expect(log.join('\n')).not.toMatch(/no confidence interval/i);
  });

  it('--json prints one document, with the campaign note once and no single-run note', () => {
    const cwd = project('json');
    write(cwd, 'json.yaml', `name: json\ncycles: 3\n${tiny()}`);
    const run = lem(['campaign', 'run', 'json.yaml', '--json', '--set', 'cycles=1'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const doc = JSON.parse(run.stdout) as {dryRun: boolean; status: string; exitCode: number; notes: string[]; plan: Plan; report: {counts: Record<string, number>}; summaryPath: string};
    expect(doc).toMatchObject({dryRun: false, status: 'completed', exitCode: 0, report: {counts: {completed: 1}}});
    // --set of a campaign key wins over the file's.
    expect(doc.plan.cycles).toEqual({kind: 'fixed', count: 1});
    expect(doc.notes.filter((n) => /confidence interval/.test(n))).toEqual([expect.stringMatching(/^1 cycle: a confidence interval needs at least 2 values/)]);
    expect(run.stdout).not.toMatch(/no confidence interval/i);
    expect(existsSync(doc.summaryPath)).toBe(true);
  });
});

describe('lem resume after an interruption', () => {
  let cwd: string;
  let id: string;
  const file = () => join(cwd, 'resume.yaml');

  beforeAll(async () => {
    cwd = project('resume');
    copyFileSync(model, join(cwd, 'model.gguf'));
    write(cwd, 'resume.yaml', `name: resume\ncycles: 2\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0.3\n${tiny().replace(`model: ${model}`, 'model: model.gguf')}`);
    const child = spawn(process.execPath, [LEM_BIN, 'campaign', 'run', 'resume.yaml'], {cwd, env: {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CONFIG_DIR: join(home, 'config'), LEM_CACHE_DIR: join(home, 'cache'), LEM_LOCK_DIR: join(home, 'locks'), NO_COLOR: '1'}});
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Ctrl+C once the first run has ended (events, not time: its end is in the journal).
    let ended = false;
    for (let i = 0; i < 600 && !ended; i++) {
      await sleep(50);
      const [found] = campaigns(cwd);
      ended = found !== undefined && existsSync(join(cwd, '.lem-state', found, 'journal.jsonl')) && readFileSync(join(cwd, '.lem-state', found, 'journal.jsonl'), 'utf8').includes('"type":"run-end"');
    }
    expect(ended).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    [id] = campaigns(cwd) as [string];
  });

  it('was interrupted resumably: exit 130, the first run completed, the state says interrupted', () => {
    const {manifest} = stateOf(cwd, id);
    expect(manifest.status).toBe('interrupted');
    expect(manifest.entries[0]).toMatchObject({key: 'resume#1', status: 'completed'});
    expect(['pending', 'interrupted']).toContain(manifest.entries[1]!.status);
    const status = lem(['campaign', 'status', id, '--json'], {home, cwd});
    expect((JSON.parse(status.stdout) as {progress: unknown}).progress).toMatchObject({done: 1, total: 2, status: 'interrupted'});
    expect(llamaServers()).toEqual([]);
  });

  it('lem campaign run of the same file refuses: its campaign is unfinished', () => {
    const run = lem(['campaign', 'run', 'resume.yaml'], {home, cwd});
    expectRefusal(run, 'E_CAMPAIGN_UNFINISHED');
    expect(run.stderr).toContain(`Try: lem resume ${id}`);
    expect(run.stderr).toContain('--fresh');
    expect(campaigns(cwd)).toEqual([id]);
  });

  it('refuses when the campaign file was edited, naming the difference, and changes nothing', () => {
    const before = stateOf(cwd, id).journal;
    const original = readFileSync(file(), 'utf8');
    writeFileSync(file(), original.replace('max_output_tokens: 8', 'max_output_tokens: 9'));
    try {
      const run = lem(['resume', id], {home, cwd});
      expectRefusal(run, 'E_CAMPAIGN_CHANGED');
      expect(run.stderr).toContain('resume: workload.max_output_tokens 8 → 9');
    } finally {
      writeFileSync(file(), original);
    }
    expect(stateOf(cwd, id).journal).toEqual(before);
  });

  it('refuses when the model file changed (its sha256), naming it; --allow-env-change continues and the summary marks the boundary', async () => {
    const path = join(cwd, 'model.gguf');
    const was = sha256(path);
    await writeTinyModel(path, {seed: 2});
    const now = sha256(path);
    expect(now).not.toBe(was);
    const before = stateOf(cwd, id).journal;
    const refused = lem(['resume', id], {home, cwd});
    expectRefusal(refused, 'E_CAMPAIGN_ENV_CHANGED');
    expect(refused.stderr).toContain(`model file ${path}: sha256 ${was.slice(0, 12)} → ${now.slice(0, 12)}`);
    expect(refused.stderr).toContain(`lem resume ${id} --allow-env-change`);
    expect(stateOf(cwd, id).journal).toEqual(before);

    const run = lem(['resume', id, '--allow-env-change'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Campaign resume ${id} \\(resumed\\)`, 'm'));
    expect(run.stdout).toMatch(/^\[resume \S+\] resume {2}cycle 2\/2 {2}run 2\/2 {2}ETA /m);
    expect(run.stdout).not.toMatch(/cycle 1\/2 {2}run 1\/2/);
    expect(run.stdout).toMatch(/^environment changed during the campaign: .*model file .*model\.gguf: sha256 /m);
    const {manifest} = stateOf(cwd, id);
    expect(manifest.status).toBe('completed');
    expect(manifest.entries.map((e) => [e.key, e.status])).toEqual([
      ['resume#1', 'completed'],
      ['resume#2', 'completed'],
    ]);
    const summary = readJson<{envChanges: Array<{at: string; changes: string[]}>; counts: Record<string, number>}>(join(cwd, 'results', id, 'summary.json'));
    expect(summary.envChanges).toEqual([{at: expect.any(String), changes: [`model file ${path}: sha256 ${was.slice(0, 12)} → ${now.slice(0, 12)}`]}]);
    expect(summary.counts).toEqual({completed: 2});
  });

  it('lem resume of a campaign that does not exist is a located refusal', () => {
    const run = lem(['resume', 'nosuchid'], {home, cwd});
    expectRefusal(run, 'E_CAMPAIGN_NOT_FOUND');
    expect(run.stderr).toContain('nosuchid');
  });
});

describe('refusals that run nothing (exit 2, located, no state folder)', () => {
  let cwd: string;
  beforeAll(() => {
    cwd = project('bad');
  });
  const common = () => `model: ${model}\ndataset:\n  kind: builtin\n  n_prompts: 4\n`;
  const refuse = (file: string, text: string, code = 'E_CONFIG_INVALID', args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    write(cwd, file, text);
    const run = lem(['campaign', 'run', file, ...args], {home, cwd, env});
    expectRefusal(run, code);
    expect(campaigns(cwd)).toEqual([]);
    expect(existsSync(join(cwd, 'results'))).toBe(false);
    return run.stderr;
  };

  it('an unknown key in the campaign file', () => {
    expect(refuse('unknown-key.yaml', `name: uk\ncycels: 3\n${common()}`)).toMatch(/^ {2}unknown-key\.yaml:2:1 cycels: unknown key "cycels"/m);
  });

  it('a campaign-only key inside the base experiment file', () => {
    write(cwd, 'base-exp.yaml', `${common()}gaps:\n  between_experiments_s: 5\n`);
    expect(refuse('with-base.yaml', 'name: wb\nbase: base-exp.yaml\n')).toMatch(/^ {2}base-exp\.yaml:5:1 gaps: gaps belong in a campaign file/m);
  });

  it('an invalid explicit experiment entry', () => {
    expect(refuse('bad-entry.yaml', `name: be\n${common()}experiments:\n  - {name: fine}\n  - workload: {concurrency: 0}\n`)).toMatch(/^ {2}bad-entry\.yaml:8:29 workload\.concurrency: Too small/m);
  });

  it('every grid point invalid: each is listed with its reason, located at its sweep value', () => {
    const stderr = refuse('bad-grid.yaml', `name: bg\n${common()}sweep:\n  workload.concurrency: [0, -1]\n`);
    expect(stderr).toContain('no grid point resolves to a valid experiment (2 dropped)');
    expect(stderr).toMatch(/bad-grid\.yaml:7:\d+ .*workload\.concurrency=0/);
    expect(stderr).toMatch(/bad-grid\.yaml:7:\d+ .*workload\.concurrency=-1/);
  });

  it('an unknown key in the sweep, located at the key', () => {
    const stderr = refuse('bad-sweep.yaml', `name: bs\n${common()}sweep:\n  workload.concurency: [1, 2]\n`);
    expect(stderr).toContain('concurency');
    expect(stderr).toContain('did you mean "concurrency"?');
    expect(stderr).toMatch(/bad-sweep\.yaml:7:3 /);
  });

  it('--runner docker with no Docker engine: refused before anything starts, never a silent local run', () => {
    const stderr = refuse('docker.yaml', `name: dk\n${common()}`, 'E_DOCKER_UNREACHABLE', ['--runner', 'docker'], {DOCKER_HOST: `unix://${join(cwd, 'no-such.sock')}`});
    expect(stderr).toContain('--runner local');
  });

  it('--container-strategy without the docker runner is refused', () => {
    expect(refuse('strategy.yaml', `name: st\n${common()}`, 'E_STRATEGY_NEEDS_DOCKER', ['--container-strategy', 'persistent'])).toContain('Try: --runner docker --container-strategy persistent');
  });

  it('a missing campaign file suggests a campaign example, not an experiment', () => {
    mkdirSync(join(cwd, 'examples'), {recursive: true});
    write(cwd, 'examples/quickstart.yaml', common());
    write(cwd, 'examples/tiny-campaign.yaml', `name: t\n${common()}`);
    const run = lem(['campaign', 'run', 'no-such-campaign.yaml'], {home, cwd});
    expectRefusal(run, 'E_FILE_NOT_FOUND');
    expect(run.stderr).toContain('Try: lem campaign run examples/tiny-campaign.yaml');
    expect(run.stderr).not.toContain('quickstart.yaml');
  });

  it('lem results show of an unknown id', () => {
    const run = lem(['results', 'show', 'nosuch'], {home, cwd});
    expectRefusal(run, 'E_RESULT_NOT_FOUND');
    expect(run.stderr).toContain('Try: lem results list');
  });
});
