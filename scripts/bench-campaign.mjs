#!/usr/bin/env node
// What a campaign costs beyond its experiments (DESIGN §7). Prints one JSON document; each part
// runs in child processes of its own, and each figure is the median of several repetitions.
//
//   plan      planCampaign on a 100 × 100 grid (10,000 configurations) × 3 cycles: the first plan
//             in a fresh process (what `lem campaign run` pays) and a second one in the same process
//   state     one run's state updates: store.record(run-start) + store.record(run-end) + a
//             progress.json write, on a 12-entry and on a 30,000-entry manifest
//   resume    `lem resume <id>` on a 30,000-entry campaign (half of it done): from spawning the
//             process to the run-start of the first run it dispatches (read from journal.jsonl),
//             and, in process, resumeCampaign() (re-plan, diff, open, lock, reconcile)
//   overhead  orchestration per run outside gaps, server start and workload: a real campaign on
//             the tiny model with zero gaps, (wall − Σ phase durations of every result.json) ÷
//             runs; and runCampaign with its `runExperiment` seam an instant stub
//
//   node scripts/bench-campaign.mjs [plan|state|resume|overhead]    # needs `pnpm run build`
//   pnpm bench campaign
//
// REPS (default 5) sets the repetitions of each part.
import {spawn, spawnSync} from 'node:child_process';
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {median, nowS, projectWith, registry, round, stats} from './bench-lib.mjs';

const self = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const lem = join(root, 'packages/cli/bin/run.js');
const core = new URL('../packages/core/dist/index.js', import.meta.url).href;
const coreFile = (path) => new URL(`../packages/core/dist/${path}`, import.meta.url).href;
const REPS = Number(process.env.REPS ?? 5);

// ------------------------------------------------------------------ shared setup (bench-lib.mjs)


const axis = (n) => `[${Array.from({length: n}, (_, i) => i + 1).join(', ')}]`;
const GRID = `name: grid\nmodel: models/tiny.gguf\ncycles: 3\ngaps: {between_experiments_s: 0, between_cycles_s: 0}\nsweep:\n  workload.concurrency: ${axis(100)}\n  workload.max_output_tokens: ${axis(100)}\n`;

function planInput(reg, dir) {
  return {registry: reg, campaignPath: join(dir, 'campaign.yaml'), projectRoot: dir, cwd: dir, cacheDir: join(dir, 'cache'), plugins: [{name: '@lem/backend-llamacpp', version: '0.1.0'}]};
}

/** Runs `--child <part> ...args` and parses its JSON line. */
function child(part, ...args) {
  const r = spawnSync(process.execPath, [self, '--child', part, ...args], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26});
  if (r.status !== 0) throw new Error(`${part} child exited ${r.status}`);
  return JSON.parse(r.stdout);
}

// ------------------------------------------------------------------ (a) planning

async function planChild() {
  const {planCampaign} = await import(core);
  const reg = await registry();
  const dir = await projectWith(GRID);
  try {
    const times = [];
    let plan;
    for (let i = 0; i < 2; i++) {
      const t0 = nowS();
      plan = (await planCampaign(planInput(reg, dir))).plan;
      times.push(nowS() - t0);
    }
    return {firstS: times[0], secondS: times[1], configurations: plan.configurations.length, runs: plan.runs.length, planJsonMB: JSON.stringify(plan).length / 2 ** 20};
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

function planPart() {
  const reps = Array.from({length: REPS}, () => child('plan'));
  return {
    grid: '100 × 100 sweep points × 3 cycles',
    configurations: reps[0].configurations,
    runs: reps[0].runs,
    planJsonMB: round(reps[0].planJsonMB, 1),
    firstPlanInFreshProcessS: stats(reps.map((r) => r.firstS)),
    secondPlanSameProcessS: stats(reps.map((r) => r.secondS)),
  };
}

// ------------------------------------------------------------------ (b) per-run state updates

/** A plan of `count` runs: only what the state folder reads matters. */
function syntheticPlan(id, count) {
  const configurations = Math.ceil(count / 3);
  const runs = [];
  for (let cycle = 1; cycle <= 3; cycle++) {
    for (let c = 0; c < configurations && runs.length < count; c++) runs.push({key: `conf${c}#${cycle}`, configuration: `conf${c}`, cycle, position: runs.length + 1, gapBeforeS: 0, gapKind: 'none', conditional: false});
  }
  return {
    schemaVersion: 1, id, name: 'bench', file: '/tmp/bench.yaml', createdAt: new Date().toISOString(), cli: [],
    cycles: {kind: 'fixed', count: 3}, order: 'interleaved', seed: 1, seedSource: 'file',
    gaps: {betweenExperimentsS: 0, betweenCyclesS: 0, cooldown: {enabled: false, deltaC: 3, timeoutS: 600}},
    retry: {maxAttempts: 1}, failureThreshold: {ratio: 0.5, scope: 'campaign', minFinished: 4, promptTimeoutS: 1800}, runTimeoutS: 3600, runner: 'local',
    resultsDir: '/tmp/bench-results', configurations: Array.from({length: configurations}, (_, c) => ({name: `conf${c}`, varies: {}, entry: null, point: {}, mergedFrom: [], backend: 'llamacpp', settings: [], settingsHash: String(c), estimateS: 30})),
    varying: [], dropped: [], runs, campaignSettings: [], environment: {lemVersion: '0', plugins: [], models: {}, datasets: {}, gpus: {uuids: [], driverVersion: null}}, etaS: 0, hash: 'bench',
  };
}

async function stateChild(count, runs) {
  const {createCampaignState} = await import(coreFile('campaign/store.js'));
  const {progressOf} = await import(coreFile('campaign/manifest.js'));
  const {etaS} = await import(coreFile('campaign/decisions.js'));
  const dir = mkdtempSync(join(tmpdir(), 'lem-bench-state-'));
  const plan = syntheticPlan(`bench-${count}`, count);
  const store = createCampaignState(dir, plan);
  const record = [];
  const bookkeeping = [];
  try {
    for (let i = 0; i < runs; i++) {
      const run = plan.runs[i];
      const t0 = nowS();
      store.record({type: 'run-start', key: run.key, attempt: 1, resultPath: `${run.configuration}-c${run.cycle}-t1`});
      store.record({type: 'run-end', key: run.key, attempt: 1, status: 'completed', category: null, code: null, message: null, resultPath: `${run.configuration}-c${run.cycle}-t1`, durationS: 30});
      store.writeProgress(progressOf(plan, store.manifest, null, null));
      const t1 = nowS();
      // What runCampaign adds around each run: progress with its ETA before and after.
      store.writeProgress(progressOf(plan, store.manifest, null, etaS(plan, store.manifest, run.position)));
      store.writeProgress(progressOf(plan, store.manifest, null, etaS(plan, store.manifest, run.position + 1)));
      record.push(t1 - t0);
      bookkeeping.push(nowS() - t0);
    }
    const manifestMB = statSync(join(dir, plan.id, 'manifest.json')).size / 2 ** 20;
    return {recordS: median(record), bookkeepingS: median(bookkeeping), manifestMB};
  } finally {
    store.close();
    rmSync(dir, {recursive: true, force: true});
  }
}

function statePart() {
  const out = {};
  for (const [label, count, runs] of [['12 entries', 12, 12], ['30,000 entries', 30_000, 20]]) {
    const reps = Array.from({length: REPS}, () => child('state', String(count), String(runs)));
    out[label] = {
      manifestMB: round(reps[0].manifestMB, 2),
      'record(run-start) + record(run-end) + progress write, s': stats(reps.map((r) => r.recordS), 4),
      'the same + runCampaign\'s two progress writes with ETA, s': stats(reps.map((r) => r.bookkeepingS), 4),
    };
  }
  return out;
}

// ------------------------------------------------------------------ (c) resume start-up

/**
 * A campaign of the 10,000-point grid started by `lem campaign run` (so that its plan records what
 * the CLI records) and stopped at its first run, then given a journal and manifest in which its
 * first `done` runs completed.
 */
async function halfDoneCampaign(done) {
  const {initialManifest, applyEvents} = await import(coreFile('campaign/manifest.js'));
  const dir = await projectWith(GRID);
  const campaignDir = () => {
    const id = readdirSafe(join(dir, '.lem-state')).find((n) => n.startsWith('grid-'));
    return id ? join(dir, '.lem-state', id) : null;
  };
  await untilFirstRunStart(['campaign', 'run', 'campaign.yaml', '--quiet'], dir, campaignDir);
  const id = readdirSafe(join(dir, '.lem-state')).find((n) => n.startsWith('grid-'));
  const stateDir = join(dir, '.lem-state', id);
  const plan = JSON.parse(readFileSync(join(stateDir, 'plan.json'), 'utf8'));
  const at = new Date().toISOString();
  const lines = plan.runs.slice(0, done).flatMap((run, i) => [
    {type: 'run-start', key: run.key, attempt: 1, resultPath: `${run.configuration}-c${run.cycle}-t1`, seq: 2 * i + 1, at},
    {type: 'run-end', key: run.key, attempt: 1, status: 'completed', category: null, code: null, message: null, resultPath: `${run.configuration}-c${run.cycle}-t1`, durationS: 30, seq: 2 * i + 2, at},
  ]);
  writeFileSync(join(stateDir, 'journal.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  writeFileSync(join(stateDir, 'manifest.json'), `${JSON.stringify(applyEvents(initialManifest(plan), lines))}\n`);
  return {dir, id, stateDir, runs: plan.runs.length, plugins: plan.environment.plugins};
}

/**
 * Spawns lem with `args` in `dir` and resolves, in seconds from the spawn, once a run-start line
 * beyond the first `before` appears in the journal of the state folder `stateDirOf()` finds; then
 * interrupts it (Ctrl+C) and waits for it to exit.
 */
async function untilFirstRunStart(args, dir, stateDirOf, before = 0) {
  const t0 = nowS();
  const proc = spawn(process.execPath, [lem, ...args], {cwd: dir, env: {...process.env, LEM_PROJECT_ROOT: dir}, stdio: ['ignore', 'ignore', 'pipe']});
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  let seconds = null;
  while (seconds === null && proc.exitCode === null) {
    await new Promise((r) => setTimeout(r, 2));
    const stateDir = stateDirOf();
    if (stateDir && readJournal(stateDir).slice(before).some((l) => l.includes('"type":"run-start"'))) seconds = nowS() - t0;
  }
  proc.kill('SIGINT');
  const code = await exited;
  if (seconds === null) throw new Error(`lem ${args.join(' ')} exited ${code} before any run started: ${stderr}`);
  return seconds;
}

function readdirSafe(path) {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readJournal(stateDir) {
  try {
    return journalLines(stateDir);
  } catch {
    return [];
  }
}

function journalLines(stateDir) {
  return readFileSync(join(stateDir, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean);
}

/** `lem resume <id>`, timed to its first run-start line, then interrupted. */
function resumeOnce(c) {
  return untilFirstRunStart(['resume', c.id, '--quiet'], c.dir, () => c.stateDir, journalLines(c.stateDir).length);
}

async function resumeChild() {
  const {resumeCampaign} = await import(core);
  const c = await halfDoneCampaign(15_000);
  try {
    const spawned = [];
    for (let i = 0; i < REPS; i++) spawned.push(await resumeOnce(c));
    const inProcess = [];
    const reg = await registry();
    for (let i = 0; i < REPS; i++) {
      const t0 = nowS();
      const {store} = await resumeCampaign({...planInput(reg, c.dir), plugins: c.plugins, id: c.id});
      inProcess.push(nowS() - t0);
      store.close();
    }
    return {runs: c.runs, manifestMB: statSync(join(c.stateDir, 'manifest.json')).size / 2 ** 20, spawned, inProcess};
  } finally {
    rmSync(c.dir, {recursive: true, force: true});
  }
}

function resumePart() {
  const r = child('resume');
  return {
    entries: r.runs,
    done: 15_000,
    manifestMB: round(r.manifestMB, 1),
    'process start → first run-start in journal.jsonl, s': stats(r.spawned),
    'resumeCampaign() in process (re-plan, diff, open, lock, reconcile), s': stats(r.inProcess),
  };
}

// ------------------------------------------------------------------ (d) orchestration overhead per run

const TINY = `name: bench-tiny
cycles: 3
gaps: {between_experiments_s: 0, between_cycles_s: 0}
sweep:
  llamacpp.parallel: [1, 2]
model: models/tiny.gguf
dataset: {kind: builtin, n_prompts: 8, max_input_tokens: 64}
workload: {concurrency: 2, max_output_tokens: 8}
warmup: {mode: fixed, requests: 2}
measure: {baseline_s: 0, idle_settle_s: 0}
llamacpp: {threads: 1}
`;

function phaseSeconds(resultsDir) {
  let total = 0;
  let runs = 0;
  for (const name of readdirSync(resultsDir)) {
    let result;
    try {
      result = JSON.parse(readFileSync(join(resultsDir, name, 'result.json'), 'utf8'));
    } catch {
      continue;
    }
    runs++;
    total += result.phases.reduce((s, p) => s + p.durationMs, 0) / 1000;
  }
  return {total, runs};
}

/** The journal's view: per run, its time outside phases inside the experiment, and the campaign's time between runs. */
function journalSplit(stateDir, resultsDir) {
  const lines = journalLines(stateDir).map((l) => JSON.parse(l));
  const ms = (l) => Date.parse(l.at);
  const split = {betweenRunsS: 0, experimentOutsidePhasesS: 0, beforeFirstPhaseS: 0, afterLastPhaseS: 0};
  let lastEnd = null;
  for (const l of lines) {
    if (l.type === 'run-start' && lastEnd !== null) split.betweenRunsS += (ms(l) - lastEnd) / 1000;
    if (l.type !== 'run-end') continue;
    lastEnd = ms(l);
    const start = lines.find((s) => s.type === 'run-start' && s.key === l.key && s.attempt === l.attempt);
    const result = JSON.parse(readFileSync(join(resultsDir, l.resultPath, 'result.json'), 'utf8'));
    split.experimentOutsidePhasesS += (ms(l) - ms(start)) / 1000 - result.phases.reduce((s, p) => s + p.durationMs, 0) / 1000;
    // Phases are timed from the run's clock anchor (wall-clock ms, read once per run).
    split.beforeFirstPhaseS += (result.clock.wallMs + Math.min(...result.phases.map((p) => p.startMs)) - ms(start)) / 1000;
    split.afterLastPhaseS += (ms(l) - result.clock.wallMs - Math.max(...result.phases.map((p) => p.endMs))) / 1000;
  }
  const start = ms(lines.find((l) => l.type === 'campaign-start'));
  const end = ms(lines.findLast((l) => l.type === 'campaign-end'));
  return {campaignS: (end - start) / 1000, ...split};
}

async function realCampaignOnce() {
  const dir = await projectWith(TINY);
  try {
    const env = {...process.env, LEM_PROJECT_ROOT: dir, LEM_DATA_DIR: join(dir, 'data'), LEM_CACHE_DIR: join(dir, 'cache'), LEM_CONFIG_DIR: join(dir, 'config')};
    const t0 = nowS();
    const r = spawnSync(process.execPath, [lem, 'campaign', 'run', 'campaign.yaml', '--quiet'], {cwd: dir, env, encoding: 'utf8'});
    const wallS = nowS() - t0;
    if (r.status !== 0) throw new Error(`lem campaign run exited ${r.status}: ${r.stderr}`);
    const id = readdirSync(join(dir, 'results'))[0];
    const resultsDir = join(dir, 'results', id);
    const phases = phaseSeconds(resultsDir);
    const split = journalSplit(join(dir, '.lem-state', id), resultsDir);
    return {runs: phases.runs, wallS, phasesS: phases.total, ...split};
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

async function stubChild(configurations) {
  const {startCampaign, runCampaign} = await import(core);
  const body = `name: stub\nmodel: models/tiny.gguf\ncycles: 3\ngaps: {between_experiments_s: 0, between_cycles_s: 0}\nsweep:\n  workload.concurrency: ${axis(Number(configurations))}\n`;
  const dir = await projectWith(body);
  try {
    const {planned, store} = await startCampaign(planInput(await registry(), dir));
    const stub = async (opts) => ({status: 'completed', runDir: join(opts.resultsDir, opts.runDirName), result: {}});
    const t0 = nowS();
    const outcome = await runCampaign({store, resolved: planned.resolved, shared: {baseDir: dir, projectRoot: dir, cacheDir: join(dir, 'cache')}, runExperiment: stub});
    const seconds = nowS() - t0;
    store.close();
    if (outcome.status !== 'completed') throw new Error(`stub campaign ended ${outcome.status}`);
    return {runs: planned.plan.runs.length, perRunS: seconds / planned.plan.runs.length};
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

async function overheadPart() {
  const real = [];
  for (let i = 0; i < REPS; i++) real.push(await realCampaignOnce());
  const runs = real[0].runs;
  const perRun = (f) => stats(real.map((r) => f(r) / r.runs));
  const stubs = {};
  for (const configurations of [2, 100]) {
    const reps = Array.from({length: REPS}, () => child('stub', String(configurations)));
    stubs[`${reps[0].runs} runs`] = stats(reps.map((r) => r.perRunS), 4);
  }
  return {
    realCampaign: '2 configurations × 3 cycles on the tiny model, zero gaps, `lem campaign run --quiet`',
    runs,
    'wall of the process, s': stats(real.map((r) => r.wallS)),
    'Σ phase durations (launch … teardown), s': stats(real.map((r) => r.phasesS)),
    '(process wall − Σ phases) ÷ runs, s': perRun((r) => r.wallS - r.phasesS),
    '(campaign-start → campaign-end − Σ phases) ÷ runs, s': perRun((r) => r.campaignS - r.phasesS),
    'of which inside the experiment, outside its phases (run-start → run-end − phases) ÷ runs, s': perRun((r) => r.experimentOutsidePhasesS),
    '  … before the first phase (run-start → launch), s': perRun((r) => r.beforeFirstPhaseS),
    '  … between its phases, s': perRun((r) => r.experimentOutsidePhasesS - r.beforeFirstPhaseS - r.afterLastPhaseS),
    '  … after the last phase (teardown → run-end), s': perRun((r) => r.afterLastPhaseS),
    'of which between runs (run-end → next run-start) ÷ runs, s': perRun((r) => r.betweenRunsS),
    'runCampaign with an instant runExperiment stub, per run, s': stubs,
  };
}

// ------------------------------------------------------------------ main

if (process.argv[2] === '--child') {
  const [part, ...args] = process.argv.slice(3);
  const result = part === 'plan' ? await planChild() : part === 'state' ? await stateChild(Number(args[0]), Number(args[1])) : part === 'resume' ? await resumeChild() : await stubChild(args[0]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const only = process.argv[2];
  const out = {node: process.version, cpus: (await import('node:os')).cpus().length, reps: REPS};
  if (!only || only === 'plan') out.plan = planPart();
  if (!only || only === 'state') out.state = statePart();
  if (!only || only === 'resume') out.resume = resumePart();
  if (!only || only === 'overhead') out.overhead = await overheadPart();
  console.log(JSON.stringify(out, null, 2));
}
