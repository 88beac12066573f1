import {createHash} from 'node:crypto';
import {existsSync, mkdtempSync, readdirSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {describe as describeValues} from '../campaign/stats.js';
import {isCodedError} from '../errors.js';
import {buildReport, writeReport, type BuiltReport} from './build.js';
import {SORT_SCRIPT} from './html.js';
import {writeCampaign, writeRun, type RunSpec} from './__fixtures__/folders.js';

let resultsDir: string;
let campaign: BuiltReport;
let summary: {summary: {configurations: Array<{name: string; metrics: Record<string, unknown>}>}};

const runs = (configuration: string, spec: Omit<RunSpec, 'configuration' | 'cycle'>): RunSpec[] => [1, 2, 3].map((cycle) => ({configuration, cycle, ...spec, speed: spec.speed + cycle}));

beforeAll(async () => {
  resultsDir = mkdtempSync(join(tmpdir(), 'lem-report-'));
  const dir = writeCampaign(resultsDir, 'c-20261203T100000Z', [...runs('fast', {speed: 400}), ...runs('slow', {speed: 200}), ...runs('nometer', {speed: 300, energy: false}), ...runs('bad', {speed: 1, failed: true})]);
  summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  campaign = await buildReport({inputs: ['c-20261203T100000Z'], resultsDir, now: () => new Date('2026-12-04T00:00:00Z')});
});

const cell = (b: BuiltReport, config: string, metric: string) => b.model.configurations.find((c) => c.name === config)!.cells[metric]!;

describe('buildReport on a campaign', () => {
  it("takes summary.json's statistics as they are, and computes only what it lacks (p90) with the summary's own function", () => {
    for (const name of ['fast', 'slow', 'nometer']) {
      const own = summary.summary.configurations.find((c) => c.name === name)!;
      for (const metric of ['energyPerOutputTokenJ', 'outputTokensPerS', 'ttftP50Ms', 'itlP50Ms', 'avgPowerW']) {
        expect(cell(campaign, name, metric)).toMatchObject({from: 'summary', stats: own.metrics[metric]});
      }
    }
    const p90 = campaign.model.runs.filter((r) => r.configuration === 'fast').map((r) => r.metrics!.ttftMs!.p90);
    expect(cell(campaign, 'fast', 'ttftP90Ms')).toEqual({from: 'runs', stats: describeValues(p90), reason: null});
  });

  it('shows the gaps with their reasons, never a 0: energy not measured, a configuration whose runs all failed', () => {
    expect(cell(campaign, 'nometer', 'energyPerOutputTokenJ')).toEqual({from: 'summary', stats: null, reason: 'energy not measured: no-meter'});
    expect(cell(campaign, 'bad', 'outputTokensPerS')).toEqual({from: 'summary', stats: null, reason: 'no completed run (3 failed: E_MODEL_INFO_INVALID)'});
    expect(cell(campaign, 'bad', 'ttftP90Ms')).toEqual({from: 'runs', stats: null, reason: 'no completed run (3 failed: E_MODEL_INFO_INVALID)'});
    const gaps = [...campaign.html.matchAll(/<td class="gap"[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!);
    expect(gaps.length).toBeGreaterThan(0);
    // The value shown is a dash, the reason beneath it: never a number in place of the unknown.
    for (const g of gaps) expect(g).toMatch(/^—<small>(energy not measured: no-meter|no completed run \(3 failed: E_MODEL_INFO_INVALID\)|failed|no common completed cycle)<\/small>$/);
    expect(campaign.html).toContain('data-reason="energy not measured: no-meter"');
    expect(campaign.model.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(['W_RUNS_FAILED', 'W_SHORT_WINDOW']));
  });

  it('carries every statistic exactly in data- attributes', () => {
    const own = summary.summary.configurations.find((c) => c.name === 'fast')!.metrics.energyPerOutputTokenJ as {mean: number; ciLow: number; n: number};
    const td = new RegExp(`<td class="num" data-config="fast" data-metric="energyPerOutputTokenJ"[^>]*>`).exec(campaign.html)![0];
    expect(td).toContain(`data-mean="${String(own.mean)}"`);
    expect(td).toContain(`data-ci-low="${String(own.ciLow)}"`);
    expect(td).toContain(`data-n="${own.n}"`);
  });

  it('marks the Pareto frontier on the exact means and says what is not on the plot and why', () => {
    const pareto = campaign.figures.find((f) => f.id === 'pareto-throughput')!;
    const points = pareto.spec!.datasets!.configurations as Array<{label: string; frontier: boolean}>;
    expect(points.map((p) => [p.label, p.frontier])).toEqual([['fast', true], ['slow', false]]);
    expect(pareto.caption).toContain('nometer (energy not measured: no-meter)');
    expect(pareto.caption).toContain('bad (no completed run');
  });

  it('renders every figure without a Vega warning, each SVG with data marks; the spec embedded beside it', () => {
    expect(campaign.renderWarnings).toEqual([]);
    const drawn = campaign.figures.filter((f) => f.svg !== null);
    expect(drawn.map((f) => f.id)).toEqual(['pareto-throughput', 'pareto-ttft-p90', 'paired-differences', 'timeline-1-fast', 'latency-1-fast', 'timeline-2-slow', 'latency-2-slow', 'timeline-3-nometer', 'latency-3-nometer']);
    for (const f of drawn) expect(f.svg!.match(/class="mark-[a-z]+ role-mark/g)?.length, f.id).toBeGreaterThan(0);
    expect(campaign.html.match(/<details class="spec">/g)).toHaveLength(drawn.length);
  });

  it('keeps a one-tick spike of the timeline through the display downsampling', () => {
    const trace = campaign.model.runs.find((r) => r.configuration === 'fast')!.traces[0]!;
    expect(trace.tMs.length).toBeLessThanOrEqual(100);
    expect(Math.max(...trace.powerW)).toBe(95);
  });

  it('is self-contained: a policy that allows no fetch, the sorting script allowed by its hash, every text escaped', () => {
    const hash = createHash('sha256').update(SORT_SCRIPT).digest('base64');
    expect(campaign.html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${hash}'"`);
    expect(campaign.html).toContain(`<script>${SORT_SCRIPT}</script>`);
    expect(campaign.html).not.toMatch(/<(link|img|iframe)\b|\bsrc="http|url\(http/);
    expect(campaign.html).toContain('host&lt;1&gt;');
    expect(campaign.html).not.toContain('host<1>');
  });
});

describe('buildReport on runs given on their own', () => {
  it('one row per run, n = 1, no interval, no paired differences, and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lem-report-runs-'));
    const a = writeRun(dir, 'one-20261203T100000000Z', {configuration: 'one', cycle: 1, speed: 100});
    const b = writeRun(dir, 'two-20261203T110000000Z', {configuration: 'two', cycle: 1, speed: 150, energy: false});
    const report = await buildReport({inputs: [a, b], resultsDir: dir});
    expect(report.model.configurations.map((c) => c.name)).toEqual(['one-20261203T100000000Z', 'two-20261203T110000000Z']);
    expect(cell(report, 'one-20261203T100000000Z', 'outputTokensPerS').stats).toMatchObject({n: 1, mean: 100, halfWidth: null, ciLow: null});
    expect(cell(report, 'two-20261203T110000000Z', 'energyPerOutputTokenJ')).toMatchObject({stats: null, reason: 'energy not measured: no-meter'});
    expect(report.model.warnings.map((w) => w.code)).toContain('W_SINGLE_RUNS');
    expect(report.figures.find((f) => f.id === 'paired-differences')).toMatchObject({spec: null, svg: null});
    expect(report.html).toContain('n=1 · no CI');
    expect(report.renderWarnings).toEqual([]);
  });
});

describe('writeReport', () => {
  it('writes report.html in the folder of a single input, and each figure with its spec for --format', async () => {
    const written = await writeReport({inputs: ['c-20261203T100000Z'], resultsDir, format: 'svg'});
    expect(written.path).toBe(join(resultsDir, 'c-20261203T100000Z', 'report.html'));
    expect(existsSync(written.path)).toBe(true);
    expect(written).toMatchObject({runs: 12, failedRuns: 3, configurations: 4, figures: 9});
    const files = readdirSync(join(resultsDir, 'c-20261203T100000Z', 'report-figures')).sort();
    expect(files).toHaveLength(18);
    expect(files).toContain('pareto-throughput.svg');
    expect(files).toContain('pareto-throughput.vl.json');
  });

  it('an unknown id is E_RESULT_NOT_FOUND with a Try line', async () => {
    const error = await writeReport({inputs: ['nope'], resultsDir}).catch((e: unknown) => e);
    expect(isCodedError(error) && error.code).toBe('E_RESULT_NOT_FOUND');
  });
});
