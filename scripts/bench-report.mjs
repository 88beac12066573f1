#!/usr/bin/env node
// `lem report` on large campaigns. One real run of the tiny model is made first (`lem experiment`);
// campaigns of 10, 100 and 500 runs (5 cycles of 2, 20 and 100 configurations) are then made by
// copying its result.json with varied numbers, a synthetic 60 s timeline of two channels at 100 ms
// (1,200 rows) and 200 measured requests per run, and a summary.json from core's own
// summarizeCampaign. Timed: buildReport in this process (median of REPS, after one warm-up at
// 10 runs) and the whole `lem report <id>` in a fresh process (median of REPS); the HTML's size.
//
//   node scripts/bench-report.mjs        # needs `pnpm run build`; pnpm bench report
//
// REPS (default 3) sets the repetitions; SIZES (default 10,100,500) the run counts.
import {spawnSync} from 'node:child_process';
import {cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lem = join(root, 'packages/cli/bin/run.js');
const core = await import(new URL('../packages/core/dist/index.js', import.meta.url).href);
const {writeTinyModel} = await import(new URL('../plugins/backend-llamacpp/dist/index.js', import.meta.url).href);
const REPS = Number(process.env.REPS ?? 3);
const SIZES = (process.env.SIZES ?? '10,100,500').split(',').map(Number);
const CYCLES = 5;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, d = 3) => Number(x.toFixed(d));
/** Deterministic pseudo-random numbers (splitmix32), so every bench run writes the same campaigns. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

/** One real run of the tiny model: the template every synthetic run is copied from. */
async function realRun(dir) {
  await writeTinyModel(join(dir, 'tiny.gguf'), {seed: 1});
  const file = join(dir, 'one.yaml');
  writeFileSync(file, `name: one\nmodel: ${join(dir, 'tiny.gguf')}\ndataset: {kind: builtin, n_prompts: 8, max_input_tokens: 32}\nworkload: {concurrency: 2, max_output_tokens: 16}\nwarmup: {mode: fixed, requests: 1}\nmeasure: {baseline_s: 0.2, idle_settle_s: 0}\nllamacpp: {threads: 1}\n`);
  const env = {...process.env, LEM_DATA_DIR: join(dir, 'data'), LEM_CONFIG_DIR: join(dir, 'config'), LEM_CACHE_DIR: join(dir, 'cache'), LEM_LOCK_DIR: join(dir, 'locks')};
  const r = spawnSync(process.execPath, [lem, 'experiment', file, '--json'], {cwd: dir, env, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`lem experiment exited ${r.status}: ${r.stderr}`);
  const runs = readdirSync(join(dir, 'results'));
  return {runDir: join(dir, 'results', runs[0]), env};
}

/** Phases stretched over 60 s in the real run's order; a timeline of two channels every 100 ms. */
function synthTimeline(rand, phases, powerScale) {
  const rows = ['scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w'];
  const energy = {a: 0, b: 0};
  for (let t = 100; t <= 60_000; t += 100) {
    const phase = phases.find((p) => t >= p.startMs && t < p.endMs)?.name ?? 'teardown';
    const busy = phase === 'measure' || phase === 'warmup' || phase === 'rewarm' ? 1 : 0.3;
    for (const [key, meter, channel, base] of [['a', 'rapl', 'package-0', 40], ['b', 'rapl', 'package-0/dram', 6]]) {
      const w = powerScale * base * busy * (0.9 + 0.2 * rand()) + (rand() < 0.002 ? 3 * base : 0);
      energy[key] += w / 10;
      rows.push(`${t},${t + 0.2},${t + 0.5},${meter},${channel},${energy[key].toFixed(4)},${w.toFixed(3)}`);
    }
  }
  return `${rows.join('\n')}\n`;
}

/** 200 measured requests from the real run's measured records, times shifted and jittered. */
function synthRequests(rand, records, measure) {
  const measured = records.filter((r) => r.phase === 'measure' && r.ok);
  const out = [];
  for (let i = 0; i < 200; i++) {
    const r = measured[i % measured.length];
    const send = measure.startMs + (i / 200) * (measure.endMs - measure.startMs - 500);
    const ttft = (r.firstContentMs - r.sendMs) * (0.7 + 0.6 * rand());
    const e2e = (r.endMs - r.sendMs) * (0.8 + 0.4 * rand()) + ttft;
    out.push(JSON.stringify({...r, id: i, scheduledMs: send, sendMs: send, firstChunkMs: send + ttft, firstContentMs: send + ttft, lastContentMs: send + e2e, endMs: send + e2e}));
  }
  return `${out.join('\n')}\n`;
}

const scaled = (s, f) => (s ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === 'n' ? v : v * f])) : s);

/** A copy of the template's result.json for one configuration and cycle, its figures varied. */
function synthResult(template, rand, id, name, configuration, cycle, position, total) {
  const f = 0.8 + 0.4 * rand();
  const speed = 1 + (configuration.length % 7) * 0.1;
  const m = JSON.parse(JSON.stringify(template.metrics));
  m.outputTokensPerS *= speed * f;
  m.requestsPerS *= speed * f;
  [m.ttftMs, m.itlMs, m.e2eMs] = [scaled(m.ttftMs, f / speed), scaled(m.itlMs, f / speed), scaled(m.e2eMs, f / speed)];
  for (const k of ['energyJ', 'energyPerOutputTokenJ', 'energyPerRequestJ', 'avgPowerW', 'idleAdjustedEnergyJ']) if (typeof m.energy[k] === 'number') m.energy[k] *= f * (2 - speed / 2);
  if (typeof m.energy.outputTokensPerJ === 'number') m.energy.outputTokensPerJ /= f;
  const phases = template.phases.map((p, i, all) => ({...p, startMs: (i * 60_000) / all.length, endMs: ((i + 1) * 60_000) / all.length}));
  const campaign = {id, name, configuration, cycle, cycles: CYCLES, position, total, planHash: 'bench', attempt: 1};
  return {result: {...template, metrics: m, phases, campaign, workload: {...template.workload, steadyWindow: null}}, phases, power: f};
}

function makeCampaign(dir, template, records, configurations, name = 'bench') {
  const id = `${name}-${configurations * CYCLES}-20261203T000000Z`;
  const folder = join(dir, id);
  mkdirSync(folder, {recursive: true});
  const names = Array.from({length: configurations}, (_, i) => `conc${i + 1}-par${(i % 4) + 1}`);
  const rand = random(configurations);
  const completed = [];
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    for (const [i, name] of names.entries()) {
      const {result, phases, power} = synthResult(template, rand, id, 'bench', name, cycle, (cycle - 1) * configurations + i + 1, configurations * CYCLES);
      const run = join(folder, `${name}-c${cycle}-t1`);
      mkdirSync(run);
      writeFileSync(join(run, 'result.json'), JSON.stringify(result, null, 2));
      writeFileSync(join(run, 'timeline.csv'), synthTimeline(rand, phases, power));
      writeFileSync(join(run, 'requests.jsonl'), synthRequests(rand, records, phases.find((p) => p.name === 'measure')));
      completed.push({configuration: name, cycle, metrics: result.metrics});
    }
  }
  const summary = core.summarizeCampaign(names, completed);
  const metrics = core.CAMPAIGN_METRICS.map(({get: _get, ...m}) => m);
  writeFileSync(join(folder, 'summary.json'), JSON.stringify({schemaVersion: 1, metrics, campaign: {id, name: 'bench', planHash: 'bench', status: 'completed', stopReason: null}, counts: {completed: completed.length}, totalEnergyJ: null, runTimeS: 0, wallTimeS: null, summary, failures: [], adaptive: null, envChanges: []}));
  return id;
}

const dirSize = (d) => readdirSync(d).reduce((s, f) => s + (statSync(join(d, f)).isDirectory() ? dirSize(join(d, f)) : statSync(join(d, f)).size), 0);

const dir = mkdtempSync(join(tmpdir(), 'lem-bench-report-'));
try {
  const {runDir, env} = await realRun(dir);
  const template = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8'));
  const records = readFileSync(join(runDir, 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const resultsDir = join(dir, 'campaigns');
  cpSync(runDir, join(dir, 'template'), {recursive: true});
  const out = {reps: REPS, sizes: {}};
  const warm = makeCampaign(resultsDir, template, records, 2, 'warm');
  await core.buildReport({inputs: [warm], resultsDir});
  for (const runs of SIZES) {
    const id = makeCampaign(resultsDir, template, records, runs / CYCLES);
    const inProcess = [];
    let html = '';
    for (let i = 0; i < REPS; i++) {
      const t0 = performance.now();
      ({html} = await core.buildReport({inputs: [id], resultsDir}));
      inProcess.push((performance.now() - t0) / 1000);
    }
    const cli = [];
    for (let i = 0; i < REPS; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [lem, 'report', join(resultsDir, id), '--out', join(dir, `r${runs}.html`), '--json'], {cwd: dir, env, encoding: 'utf8'});
      if (r.status !== 0) throw new Error(`lem report exited ${r.status}: ${r.stderr}`);
      cli.push((performance.now() - t0) / 1000);
    }
    out.sizes[runs] = {
      configurations: runs / CYCLES,
      buildReportS: round(median(inProcess)),
      lemReportS: round(median(cli)),
      htmlMB: round(Buffer.byteLength(html) / 1e6, 2),
      campaignFolderMB: round(dirSize(join(resultsDir, id)) / 1e6, 1),
    };
    if (!process.env.KEEP) rmSync(join(resultsDir, id), {recursive: true, force: true});
  }
  console.log(JSON.stringify(out, null, 2));
} finally {
  // KEEP=1 leaves the campaigns (and says where), for profiling `lem report` on them.
  if (process.env.KEEP) console.error(`bench-report: campaigns kept in ${join(dir, 'campaigns')}`);
  else rmSync(dir, {recursive: true, force: true});
}
