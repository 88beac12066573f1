/**
 * `lem report` through the real binary on real results: a campaign on the tiny model (two
 * configurations × two cycles, one whose runs measure no energy, one whose runs fail), and a
 * single experiment measured without a meter. Each report is opened in real headless Chromium:
 * no console error, no request but the page, every plot with data marks, a screenshot kept in
 * .test-artifacts/; the numbers read back out of the page equal summary.json's, and every gap
 * shows its reason, never a 0.
 */
import {existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {CycleStats} from '@lem/core';
import type {Browser, Page} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {chromiumMissing, launchChromium, openFile, screenshot} from './__fixtures__/browser.js';
import {freshHome, lem} from './helpers.js';

const missing = chromiumMissing();
const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;

let home: string;
let dir: string;
let id: string;
let single: string;
let browser: Browser;

interface SummaryFile {
  summary: {configurations: Array<{name: string; metrics: Record<string, CycleStats | null>}>};
}

/** Settings of every run here: 4 prompts, 8 tokens each, one thread, a 0.2 s baseline (2–4 s a run). */
const TINY = (model: string) =>
  `model: ${model}\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 8\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\nllamacpp:\n  threads: 1\n`;

beforeAll(async () => {
  if (missing) return;
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-report-e2e-'));
  const model = join(dir, 'tiny.gguf');
  const {writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: (path: string, options: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
  writeFileSync(join(dir, 'not-a-model.gguf'), 'this is not a GGUF file\n');
  const experiments = `experiments:\n  - {name: conc1, workload: {concurrency: 1}}\n  - {name: conc2, workload: {concurrency: 2}}\n  - {name: nometer, measure: {meters: []}}\n  - {name: bad, llamacpp: {model_path: ${join(dir, 'not-a-model.gguf')}}}\n`;
  writeFileSync(join(dir, 'sweep.yaml'), `name: sweep\ncycles: 2\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\n${experiments}${TINY(model)}`);
  const campaign = lem(['campaign', 'run', 'sweep.yaml', '--json'], {home, cwd: dir});
  expect(campaign.status, campaign.stderr).toBe(1); // the bad configuration's runs failed
  id = readdirSync(join(dir, 'results')).find((d) => d.startsWith('sweep-'))!;
  writeFileSync(join(dir, 'alone.yaml'), `name: alone\n${TINY(model).replace('idle_settle_s: 0', 'idle_settle_s: 0\n  meters: []')}`);
  const run = lem(['experiment', 'alone.yaml', '--json'], {home, cwd: dir});
  expect(run.status, run.stderr).toBe(0);
  single = readdirSync(join(dir, 'results')).find((d) => d.startsWith('alone-'))!;
  browser = await launchChromium();
}, 150_000);

afterAll(async () => {
  await browser?.close();
});

/** The page's table cells with their data- attributes, as a reader's script sees them. */
interface Cell {
  config?: string;
  metric?: string;
  from?: string;
  reason?: string;
  n?: string;
  mean?: string;
  std?: string;
  cv?: string;
  ciLow?: string;
  ciHigh?: string;
  halfWidth?: string;
  gap: boolean;
  text: string;
}
const cellsOf = (page: Page, table: string): Promise<Cell[]> =>
  page.$$eval(`#${table} td[data-metric]`, (tds) => tds.map((td) => ({...(td as unknown as {dataset: Record<string, string>}).dataset, gap: td.classList.contains('gap'), text: td.textContent ?? ''})));

/** Opens the report and checks what every report must be: quiet, self-contained, every plot with data points. */
async function openReport(path: string, name: string): Promise<Page> {
  const {page, errors, requests} = await openFile(browser, path);
  expect(errors).toEqual([]);
  expect(requests).toEqual([]);
  const marks = await page.$$eval('figure.plot', (figures) => figures.map((f) => [f.getAttribute('data-figure'), f.querySelectorAll('svg g.role-mark > *').length] as const));
  expect(marks.length).toBeGreaterThan(0);
  for (const [figure, count] of marks) expect(count, `${figure} has no data marks`).toBeGreaterThan(0);
  await screenshot(page, name);
  return page;
}

describe.skipIf(Boolean(missing))(`lem report in headless Chromium${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('a campaign: written into its folder, says what it wrote, numbers equal to summary.json, gaps with reasons', async () => {
    const run = lem(['report', id], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const path = join(dir, 'results', id, 'report.html');
    expect(run.stdout).toContain(`Wrote ${path}`);
    expect(run.stdout).toMatch(/8 runs, 2 not completed, 4 configurations, 9 figures/);
    const page = await openReport(path, 'report-campaign');
    const summary = JSON.parse(readFileSync(join(dir, 'results', id, 'summary.json'), 'utf8')) as SummaryFile;
    const cells = await cellsOf(page, 'configurations-table');
    const own = (config: string, metric: string) => summary.summary.configurations.find((c) => c.name === config)!.metrics[metric];
    const exact = (v: string | undefined) => (v === '' || v === undefined ? null : Number(v));
    let compared = 0;
    for (const c of cells.filter((x) => x.from === 'summary')) {
      const s = own(c.config!, c.metric!);
      if (!s) {
        expect(c.gap, `${c.config} ${c.metric}`).toBe(true);
        continue;
      }
      expect({n: Number(c.n), mean: exact(c.mean), std: exact(c.std), cv: exact(c.cv), ciLow: exact(c.ciLow), ciHigh: exact(c.ciHigh), halfWidth: exact(c.halfWidth)}, `${c.config} ${c.metric}`).toEqual({n: s.n, mean: s.mean, std: s.std, cv: s.cv, ciLow: s.ciLow, ciHigh: s.ciHigh, halfWidth: s.halfWidth});
      compared++;
    }
    expect(compared).toBe(2 * 5 + 3); // conc1, conc2: the 5 summary metrics shown; nometer: its 3 without energy
    // The gaps: a configuration whose runs failed, energy never measured; a dash and the reason, never a 0.
    const gaps = cells.filter((x) => x.gap);
    expect(gaps.filter((g) => g.config === 'bad')).toHaveLength(9);
    for (const g of gaps.filter((x) => x.config === 'bad')) expect(g.reason).toBe('no completed run (2 failed: E_MODEL_INFO_INVALID)');
    expect(gaps.filter((g) => g.config === 'nometer').map((g) => [g.metric, g.reason])).toEqual([
      ['energyPerOutputTokenJ', 'energy not measured: no-meter'],
      ['avgPowerW', 'energy not measured: no-meter'],
    ]);
    for (const g of gaps) expect(g.text.startsWith('—') && !/^\s*0/.test(g.text.slice(1))).toBe(true);
    // Each failed run is listed with its failure, in words.
    const failed = await page.$$eval('#runs-table tr.failed', (rows) => rows.map((r) => r.textContent ?? ''));
    expect(failed).toHaveLength(2);
    for (const text of failed) expect(text).toMatch(/failedE_MODEL_INFO_INVALID.*config: E_MODEL_INFO_INVALID .*not a readable GGUF file/);
    // The header: campaign, plan hash, lem version, machine, dates, warnings.
    const header = await page.$eval('header', (h) => h.textContent ?? '');
    expect(header).toMatch(new RegExp(`campaign sweep ${id}.*plan hash [0-9a-f]{64}`));
    expect(header).toMatch(/measured with 0\.1\.0; report written by lem 0\.1\.0/);
    expect(header).toMatch(/W_RUNS_FAILED 2 of 8 runs failed/);
    expect(header).toMatch(/W_FEW_CYCLES/);
  });

  it('sorts a table by a clicked column (the one script the page allows runs)', async () => {
    const {page} = await openFile(browser, join(dir, 'results', id, 'report.html'));
    const header = page.locator('#configurations-table thead th', {hasText: 'Output tokens per second'});
    await header.click();
    const order = await page.$$eval('#configurations-table tbody tr', (rows) => rows.map((r) => r.getAttribute('data-config')));
    const means = await page.$$eval('#configurations-table td[data-metric="outputTokensPerS"]', (tds) => tds.map((td) => td.getAttribute('data-sort')));
    const known = means.filter((m) => m !== '').map(Number);
    expect(known).toEqual([...known].sort((a, b) => a - b));
    expect(order.at(-1)).toBe('bad'); // its gap sorts last
  });

  it('a single run without energy: n = 1, no interval, the reason for the missing energy', async () => {
    const run = lem(['report', single, '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const written = JSON.parse(run.stdout) as {path: string; runs: number; configurations: number};
    expect(written).toMatchObject({path: join(dir, 'results', single, 'report.html'), runs: 1, configurations: 1});
    const page = await openReport(written.path, 'report-single-run');
    const cells = await cellsOf(page, 'configurations-table');
    expect(cells.find((c) => c.metric === 'energyPerOutputTokenJ')).toMatchObject({gap: true, reason: 'energy not measured: no-meter'});
    expect(cells.find((c) => c.metric === 'outputTokensPerS')).toMatchObject({gap: false, n: '1', halfWidth: ''});
    expect(await page.textContent('body')).toContain('n=1 · no CI');
    expect(await page.textContent('#differences ~ p.note')).toMatch(/No paired differences/);
    const said = lem(['report', single, '--out', join(dir, 'single-again.html')], {home, cwd: dir});
    expect(said.stdout).toMatch(/; 1 run, 0 not completed, 1 configuration, \d+ figures\) in /);
  });

  it('unrelated runs together, with figure files (PNG and their specs) for papers', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lem-report-out-'));
    const inputs = [join(dir, 'results', single), join(dir, 'results', id, 'conc1-c1-t1')];
    const run = lem(['report', ...inputs, '--format', 'png', '--json', '--project-root', dir], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    const written = JSON.parse(run.stdout) as {path: string; configurations: number; figureFiles: Array<{path: string}>};
    expect(written.path).toBe(join(cwd, 'report.html'));
    expect(written.configurations).toBe(2);
    const pngs = written.figureFiles.filter((f) => f.path.endsWith('.png'));
    expect(pngs.map((f) => f.path.split('/').at(-1))).toEqual(expect.arrayContaining(['pareto-throughput.png', `timeline-1-${single.toLowerCase()}.png`]));
    for (const f of pngs) expect(readFileSync(f.path).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(written.figureFiles.filter((f) => f.path.endsWith('.vl.json'))).toHaveLength(pngs.length);
    await openReport(written.path, 'report-unrelated-runs');
  });

  it('in worker threads the page holds the same tables', async () => {
    const out = join(dir, 'threads.html');
    const run = lem(['report', id, '--out', out], {home, cwd: dir, env: {LEM_REPORT_THREADS: '2'}});
    expect(run.status, run.stderr).toBe(0);
    const tables = (file: string) => readFileSync(file, 'utf8').match(/<table[\s\S]*?<\/table>/g);
    expect(tables(out)).toEqual(tables(join(dir, 'results', id, 'report.html')));
    expect(existsSync(out)).toBe(true);
  });

  it('an unknown campaign or folder: a coded error with a Try line, exit 2, no stack trace', () => {
    const run = lem(['report', 'no-such-campaign'], {home, cwd: dir});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Error E_RESULT_NOT_FOUND: no campaign or run no-such-campaign in /m);
    expect(run.stderr).toMatch(/^Try: /m);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});
