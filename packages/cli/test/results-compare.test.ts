/**
 * `lem results compare` through the real binary, on campaigns and a run made here by the real
 * `lem campaign run` and `lem experiment` on the generated tiny model: the paired numbers must be
 * those of summary.json and comparisons.csv, the unpaired ones those of a Welch interval computed
 * here from the runs' own result.json, unmeasured energy must show its reason, and bad input must
 * be refused (exit 2, a code and a Try line).
 */
import {existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {freshHome, lem} from './helpers.js';

// Core's dependencies, read as any reader would: comparisons.csv by a CSV parser, t quantiles from stdlib.
const coreRequire = createRequire(new URL('../../core/package.json', import.meta.url));
const {parse} = coreRequire('csv-parse/sync') as {parse: (text: string, options: {columns: true}) => Array<Record<string, string>>};
const tQuantile = coreRequire('@stdlib/stats-base-dists-t-quantile') as (p: number, df: number) => number;

const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
let home: string;
let cwd: string;
let grid: string;
let other: string;
let single: string;

interface Stats {
  n: number;
  mean: number;
  halfWidth: number | null;
}
interface MetricComparison {
  metric: string;
  a: {stats: Stats | null; reason: string | null};
  b: {stats: Stats | null; reason: string | null};
  difference: {method: string; pairs: number | null; nA: number; nB: number; df: number | null; meanDiff: number; halfWidth: number | null; ciLow: number | null; ciHigh: number | null; relativePct: number | null; relativeHalfWidthPct: number | null} | null;
  verdict: {kind: string; text: string};
}
interface Report {
  method: string;
  pairs: Array<{a: string; b: string; metrics: MetricComparison[]}>;
  unmatched: {a: string[]; b: string[]};
}
interface Summary {
  metrics: Array<{id: string; better: 'lower' | 'higher'; headline: boolean}>;
  summary: {configurations: Array<{name: string; metrics: Record<string, Stats | null>}>};
}
interface RunResult {
  status: string;
  campaign: {configuration: string; cycle: number} | null;
  metrics: {outputTokensPerS: number; ttftMs: {p50: number}; itlMs: {p50: number}; energy: {available: boolean; reason?: string; energyJ: number | null; energyPerOutputTokenJ?: number}};
}

const tiny = (model: string) =>
  `model: ${model}\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 8\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\nllamacpp:\n  threads: 1\n`;
const campaignFile = (name: string, concurrency: number[], cycles: number, model: string) =>
  `name: ${name}\nsweep:\n  workload.concurrency: [${concurrency.join(', ')}]\ncycles: ${cycles}\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\n${tiny(model)}`;

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const newest = (prefix: string) => readdirSync(join(cwd, 'results')).find((d) => d.startsWith(`${prefix}-`))!;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const variance = (xs: number[]) => xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1);

/** A configuration's completed runs in a campaign folder, by cycle. */
function runsOf(id: string, configuration: string): RunResult[] {
  const folder = join(cwd, 'results', id);
  return readdirSync(folder)
    .filter((d) => existsSync(join(folder, d, 'result.json')))
    .map((d) => readJson<RunResult>(join(folder, d, 'result.json')))
    .filter((r) => r.status === 'completed' && r.campaign?.configuration === configuration)
    .sort((x, y) => x.campaign!.cycle - y.campaign!.cycle);
}

function run(args: string[]) {
  const r = lem(['results', 'compare', ...args], {home, cwd});
  return {...r, json: () => JSON.parse(r.stdout) as Report};
}

function expectRefusal(r: {status: number | null; stderr: string}, code: string): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^Error ${code}: `, 'm'));
  expect(r.stderr).toMatch(/^Try: lem /m);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

beforeAll(async () => {
  home = freshHome();
  cwd = mkdtempSync(join(tmpdir(), 'lem-compare-'));
  const model = join(cwd, 'tiny.gguf');
  const {writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: (path: string, options: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
  writeFileSync(join(cwd, 'grid.yaml'), campaignFile('grid', [1, 2], 3, model));
  writeFileSync(join(cwd, 'other.yaml'), campaignFile('other', [1, 3], 2, model));
  // No meter: energy is null with its reason.
  writeFileSync(join(cwd, 'single.yaml'), `name: single\n${tiny(model).replace('  idle_settle_s: 0\n', '  idle_settle_s: 0\n  meters: []\n')}`);
  for (const args of [['campaign', 'run', 'grid.yaml'], ['campaign', 'run', 'other.yaml'], ['experiment', 'single.yaml']]) {
    const r = lem(args, {home, cwd});
    if (r.status !== 0) throw new Error(`lem ${args.join(' ')}: ${r.stderr}`);
  }
  [grid, other, single] = [newest('grid'), newest('other'), newest('single')];
});


describe('lem results compare', () => {
  it('explains the addressing and the methods in --help, with examples', () => {
    const help = lem(['results', 'compare', '--help'], {home, cwd});
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/<campaign>:<configuration>\s+one configuration of that campaign/);
    expect(help.stdout).toMatch(/<campaign>\s+a whole campaign/);
    expect(help.stdout).toMatch(/<run>\s+one run/);
    expect(help.stdout).toContain('--campaign');
    expect(help.stdout).toMatch(/paired by cycle/);
    expect(help.stdout).toMatch(/Welch–Satterthwaite/);
    expect(help.stdout).toMatch(/\$ lem results compare grid-\d{8}T\d{6}Z:conc1 grid-\d{8}T\d{6}Z:conc2/);
  });

  it("pairs two configurations of one campaign by cycle with summary.json's statistics and comparisons.csv's differences", () => {
    const r = run([`${grid}:conc1`, `${grid}:conc2`, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = r.json();
    const summary = readJson<Summary>(join(cwd, 'results', grid, 'summary.json'));
    const rows = parse(readFileSync(join(cwd, 'results', grid, 'comparisons.csv'), 'utf8'), {columns: true});
    const stats = (name: string, id: string) => summary.summary.configurations.find((c) => c.name === name)!.metrics[id];
    expect(report.method).toBe('paired');
    expect(report.pairs.map((p) => [p.a, p.b])).toEqual([[`${grid}:conc1`, `${grid}:conc2`]]);
    const metrics = report.pairs[0]!.metrics;
    expect(metrics.map((m) => m.metric)).toEqual(summary.metrics.filter((m) => m.headline).map((m) => m.id));
    for (const m of metrics) {
      const row = rows.find((x) => x.configuration_a === 'conc1' && x.configuration_b === 'conc2' && x.metric === m.metric)!;
      expect(m.a.stats, m.metric).toEqual(stats('conc1', m.metric));
      expect(m.b.stats, m.metric).toEqual(stats('conc2', m.metric));
      const d = m.difference!;
      expect([d.pairs, d.df, d.meanDiff, d.ciLow, d.ciHigh, d.relativePct], m.metric).toEqual([Number(row.n_pairs), 2, Number(row.mean_difference), Number(row.ci_low), Number(row.ci_high), Number(row.relative_pct)]);
      // The relative interval: that of the difference over A's mean (every cycle is paired here).
      expect(d.relativeHalfWidthPct! / (((Number(row.ci_high) - Number(row.mean_difference)) / Math.abs(stats('conc1', m.metric)!.mean)) * 100)).toBeCloseTo(1, 9);
      const better = summary.metrics.find((x) => x.id === m.metric)!.better;
      const excludes0 = Number(row.ci_low) > 0 || Number(row.ci_high) < 0;
      expect(m.verdict.kind, m.metric).toBe(!excludes0 ? 'no-clear-difference' : (Number(row.mean_difference) > 0) === (better === 'higher') ? 'better' : 'worse');
      expect(m.verdict.text).toMatch(/\(.*paired over 3 cycles\)$/);
    }
  });

  it('with --campaign and B before A: the negated difference, and a table and a verdict per metric', () => {
    const json = run(['--campaign', grid, 'conc2', 'conc1', '--json']);
    const text = run(['--campaign', grid, 'conc2', 'conc1']);
    expect(text.status, text.stderr).toBe(0);
    const rows = parse(readFileSync(join(cwd, 'results', grid, 'comparisons.csv'), 'utf8'), {columns: true});
    const metrics = json.json().pairs[0]!.metrics;
    for (const m of metrics) expect(m.difference!.meanDiff).toBeCloseTo(-Number(rows.find((x) => x.metric === m.metric)!.mean_difference), 12);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toBe(`A  ${grid}:conc2  (campaign ${grid}, 3 cycles completed)`);
    expect(lines[1]).toBe(`B  ${grid}:conc1  (campaign ${grid}, 3 cycles completed)`);
    expect(lines[3]).toMatch(/^METRIC\s+UNIT\s+A\s+B\s+B − A\s+B VS A\s+METHOD$/);
    expect(lines.slice(4, 8).map((l) => l.split(/\s{2,}/)[0])).toEqual(['Energy per output token', 'Output tokens per second', 'TTFT p50', 'ITL p50']);
    for (const l of lines.slice(4, 8)) expect(l).toMatch(/\d ± \d.*\d ± \d.*\d ± \d.*% ± .*%\s+paired n=3$/);
    // The verdicts on screen are those of --json, one per metric.
    expect(lines.slice(9, 13)).toEqual(metrics.map((m) => m.verdict.text));
  });

  it("compares two campaigns configuration by configuration with Welch's interval, as computed here from their runs", () => {
    const r = run([grid, other, '--all', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = r.json();
    expect(report.method).toBe('welch');
    expect(report.pairs.map((p) => [p.a, p.b])).toEqual([[`${grid}:conc1`, `${other}:conc1`]]);
    expect(report.unmatched).toEqual({a: ['conc2'], b: ['conc3']});
    expect(report.pairs[0]!.metrics).toHaveLength(readJson<Summary>(join(cwd, 'results', grid, 'summary.json')).metrics.length);
    const getters: Record<string, (r: RunResult) => number> = {
      outputTokensPerS: (x) => x.metrics.outputTokensPerS,
      ttftP50Ms: (x) => x.metrics.ttftMs.p50,
      itlP50Ms: (x) => x.metrics.itlMs.p50,
      energyPerOutputTokenJ: (x) => x.metrics.energy.energyPerOutputTokenJ!,
      energyJ: (x) => x.metrics.energy.energyJ!,
    };
    for (const [id, get] of Object.entries(getters)) {
      const a = runsOf(grid, 'conc1').map(get);
      const b = runsOf(other, 'conc1').map(get);
      expect([a.length, b.length]).toEqual([3, 2]);
      // Welch: se² = s_A²/n_A + s_B²/n_B; df by Welch–Satterthwaite; half-width t(0.975, df) · se.
      const [va, vb] = [variance(a) / a.length, variance(b) / b.length];
      const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
      const halfWidth = tQuantile(0.975, df) * Math.sqrt(va + vb);
      const d = report.pairs[0]!.metrics.find((m) => m.metric === id)!.difference!;
      expect(d).toMatchObject({method: 'welch', pairs: null, nA: 3, nB: 2});
      expect(d.meanDiff / (mean(b) - mean(a)), id).toBeCloseTo(1, 9);
      expect(d.df! / df, id).toBeCloseTo(1, 9);
      expect(d.halfWidth! / halfWidth, id).toBeCloseTo(1, 9);
      expect(d.relativePct! / (((mean(b) - mean(a)) / mean(a)) * 100), id).toBeCloseTo(1, 9);
    }
  });

  it('shows why energy is unknown, never 0, and cannot tell an interval against a single run', () => {
    const r = run([`${grid}:conc1`, join('results', single)]);
    expect(r.status, r.stderr).toBe(0);
    const reason = readJson<RunResult>(join(cwd, 'results', single, 'result.json')).metrics.energy.reason!;
    expect(reason).toBeTruthy();
    const energyRow = r.stdout.split('\n').find((l) => l.startsWith('Energy per output token'))!;
    expect(energyRow.split(/\s{2,}/).slice(3)).toEqual([`— (energy not measured: ${reason})`, '—', '—', '—']);
    expect(r.stdout).toContain(`cannot tell for energy per output token: B has no value (energy not measured: ${reason})`);
    expect(r.stdout).toContain('cannot tell for TTFT p50: B has one value (an interval needs two on each side)');
    expect(r.stdout).toMatch(/^TTFT p50\s+ms\s+\S+ ± \S+\s+\d[\d.]*\s+.*Welch n=3\+1$/m);
  });

  it('refuses an unknown id, an unknown configuration, A = B and an ambiguous campaign (exit 2, a code, Try)', () => {
    expectRefusal(run(['nothing-20990101T000000Z', `${grid}:conc1`]), 'E_RESULT_NOT_FOUND');
    const unknown = run([`${grid}:conc1`, `${grid}:conc9`]);
    expectRefusal(unknown, 'E_COMPARE_UNKNOWN_CONFIGURATION');
    expect(unknown.stderr).toContain(`campaign ${grid} has no configuration "conc9"; its configurations: conc1, conc2`);
    expect(unknown.stderr).toContain(`Try: lem results compare ${grid}:conc1 ${grid}:conc2`);
    expectRefusal(run([`${grid}:conc1`, `${grid}:conc1`]), 'E_COMPARE_SAME');
    const ambiguous = run([grid, `${other}:conc1`]);
    expectRefusal(ambiguous, 'E_COMPARE_AMBIGUOUS');
    expect(ambiguous.stderr).toContain(`Try: lem results compare ${grid}:conc1 ${other}:conc1`);
  });
});
