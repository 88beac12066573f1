#!/usr/bin/env node
// What the Slurm executor costs (DESIGN §10). Prints one JSON document.
//
//   poll   the orchestrator's look at the queue (syncSlurmCampaign: squeue for every active
//          job, their journals, the manifest) with 10, 100 and 1,000 queued jobs, answered by a
//          fake `squeue` / `scontrol` / `sinfo` put first on PATH for this benchmark only: the
//          first look (every job's state recorded) and the steady state (nothing changed),
//          median of REPS, and squeue's own answer alone for comparison
//   real   a real campaign on the cluster of SLURM_CONF (slurm/cluster.sh): 1 configuration ×
//          6 cycles of the tiny model, max_concurrent 2: for the jobs free to start at once,
//          sbatch → their first run's start (the job journal's run-start); for the jobs chained
//          after another, that job's last journal line → their first run's start; per job, its
//          journal's last line → lem's settling of the job; the orchestrator's CPU time
//          (user + sys) per job. Skipped without SLURM_CONF.
//
//   node scripts/bench-slurm.mjs [poll|real]      # needs `pnpm run build`
//   pnpm bench slurm
import {spawnSync} from 'node:child_process';
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {median, nowS, projectWith, registry, round, stats} from './bench-lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const lem = join(root, 'packages/cli/bin/run.js');
const core = new URL('../packages/core/dist/index.js', import.meta.url).href;
const REPS = Number(process.env.REPS ?? 5);

async function project(body) {
  const dir = await projectWith(body, 'lem-bench-slurm-');
  mkdirSync(join(dir, '.lem-state'));
  return dir;
}

const TINY = `model: models/tiny.gguf\ndataset: {kind: builtin, n_prompts: 4, max_input_tokens: 32}\nworkload: {concurrency: 1, max_output_tokens: 4}\nwarmup: {mode: fixed, requests: 1}\nmeasure: {baseline_s: 0.2, idle_settle_s: 0}\nllamacpp: {threads: 1}\n`;

// ------------------------------------------------------------------ poll

/** A bin folder whose squeue lists `n` pending jobs (ids 1..n), whatever it is asked; scontrol and sinfo answer too. */
function fakeSlurm(n) {
  const bin = mkdtempSync(join(tmpdir(), 'lem-fake-slurm-'));
  const lines = Array.from({length: n}, (_, i) => `${i + 1}|PENDING||Priority`).join('\n');
  writeFileSync(join(bin, 'queue.txt'), `${lines}\n`);
  const script = (body) => `#!/bin/sh\n${body}\n`;
  writeFileSync(join(bin, 'squeue'), script(`case "$*" in *--name=*) exit 0;; esac\ncat "${join(bin, 'queue.txt')}"`));
  writeFileSync(join(bin, 'scontrol'), script('exit 0'));
  writeFileSync(join(bin, 'sinfo'), script('echo lem'));
  writeFileSync(join(bin, 'sacct'), script('echo "Slurm accounting storage is disabled" >&2; exit 1'));
  for (const f of ['squeue', 'scontrol', 'sinfo', 'sacct']) chmodSync(join(bin, f), 0o755);
  return bin;
}

async function pollAt(n, reg) {
  const {planCampaign, slurmCommands, syncSlurmCampaign} = await import(core);
  const {createCampaignState} = await import(new URL('../packages/core/dist/campaign/store.js', import.meta.url).href);
  const dir = await project(`name: poll\nexecutor: slurm\nslurm: {partition: lem}\ncycles: ${n}\ngaps: {between_experiments_s: 0, between_cycles_s: 0}\n${TINY}`);
  const {plan} = await planCampaign({registry: reg, campaignPath: join(dir, 'campaign.yaml'), projectRoot: dir, cwd: dir, cacheDir: join(dir, 'cache')});
  const store = createCampaignState(join(dir, '.lem-state'), plan);
  for (let c = 1; c <= n; c++) store.record({type: 'job-submit', id: String(c), cycle: c, keys: plan.runs.filter((r) => r.cycle === c).map((r) => r.key)});
  const commands = slurmCommands({...process.env, PATH: `${fakeSlurm(n)}:${process.env.PATH}`});
  const ids = store.manifest.jobs.map((j) => j.id);
  let t0 = nowS();
  await syncSlurmCampaign(store, commands);
  const firstS = nowS() - t0;
  const steady = [];
  const squeue = [];
  for (let i = 0; i < REPS; i++) {
    t0 = nowS();
    await syncSlurmCampaign(store, commands);
    steady.push(nowS() - t0);
    t0 = nowS();
    await commands.states(ids);
    squeue.push(nowS() - t0);
  }
  store.close();
  return {jobs: n, firstLookS: round(firstS), steadyPollS: stats(steady), squeueAloneS: stats(squeue), perJobSteadyMs: round((median(steady) / n) * 1000, 4)};
}

async function poll() {
  const reg = await registry();
  const out = [];
  for (const n of [10, 100, 1000]) out.push(await pollAt(n, reg));
  return out;
}

// ------------------------------------------------------------------ real

async function real() {
  if (!process.env.SLURM_CONF) return {skipped: 'SLURM_CONF is not set (eval "$(slurm/cluster.sh start DIR)")'};
  const dir = await project(`name: real\nexecutor: slurm\nslurm: {partition: lem, exclusive: false, max_concurrent: 2, poll_s: 0.5}\ncycles: 6\ngaps: {between_experiments_s: 0, between_cycles_s: 0}\n${TINY}`);
  const home = mkdtempSync(join(tmpdir(), 'lem-bench-slurm-home-'));
  const env = {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CACHE_DIR: join(home, 'cache'), LEM_CONFIG_DIR: join(home, 'config'), LEM_LOCK_DIR: join(home, 'locks'), TIMEFORMAT: 'cpu %U %S'};
  const t0 = nowS();
  // bash's `time` gives the orchestrator's own CPU time (the jobs are Slurm's processes, not its children).
  const r = spawnSync('bash', ['-c', `time "${process.execPath}" "${lem}" campaign run campaign.yaml --quiet`], {cwd: dir, env, encoding: 'utf8'});
  const wallS = nowS() - t0;
  if (r.status !== 0) throw new Error(`the campaign exited ${r.status}: ${r.stderr}`);
  const [, user, sys] = /cpu ([\d.]+) ([\d.]+)/.exec(r.stderr) ?? [];
  const id = readdirSync(join(dir, '.lem-state')).find((d) => d.startsWith('real-'));
  const state = join(dir, '.lem-state', id);
  const manifest = JSON.parse(readFileSync(join(state, 'manifest.json'), 'utf8'));
  const journal = (jobId) => readFileSync(join(state, 'jobs', `${jobId}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const toFirstRun = [];
  const handOver = [];
  const toSettled = [];
  for (const job of manifest.jobs) {
    const lines = journal(job.id);
    const start = Date.parse(lines.find((l) => l.type === 'run-start').at);
    // A job free to start at once: from sbatch to its first run. One chained after another: from that job's last line.
    if (job.after === null) toFirstRun.push((start - Date.parse(job.submittedAt)) / 1000);
    else handOver.push((start - Date.parse(journal(job.after).at(-1).at)) / 1000);
    toSettled.push((Date.parse(job.endedAt) - Date.parse(lines.at(-1).at)) / 1000);
  }
  const cpuS = Number(user) + Number(sys);
  return {jobs: manifest.jobs.length, wallS: round(wallS, 1), submitToFirstRunS: stats(toFirstRun), chainedJobHandOverS: stats(handOver), lastJournalLineToSettledS: stats(toSettled), orchestratorCpuS: round(cpuS, 2), orchestratorCpuPerJobS: round(cpuS / manifest.jobs.length)};
}

const part = process.argv[2];
const out = {};
if (!part || part === 'poll') out.poll = await poll();
if (!part || part === 'real') out.real = await real();
console.log(JSON.stringify(out, null, 2));
