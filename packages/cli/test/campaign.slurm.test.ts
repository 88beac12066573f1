/**
 * `lem campaign run --executor slurm` on the real single-node Slurm cluster (slurm/cluster.sh),
 * with the real llama.cpp server on the tiny model and the fake NVML library's two GPUs (the
 * node's GRES): one batch job per cycle, two at a time on the node's two job slots, each on its
 * own GPU; results shaped as a local campaign's; Ctrl+C, --detach and resume; kill -9 of the
 * orchestrator and resume adopting its jobs; a job killed by its time limit; a failing setup
 * line; the failure threshold across jobs. Under CI=true a cluster that does not answer fails the
 * file; elsewhere the file is skipped with the reason.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {hostname, tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import type {JobRecord} from '@lem/core';
import {compileFakeNvml, type FakeNvml} from '../../core/src/meters/__fixtures__/fake-nvml.js';
import {engineMissing} from './__fixtures__/docker-cli.js';
import {KEYS, spawnPty} from './__fixtures__/pty.js';
import {cancelJobs, jobInfo, slurm, slurmMissing, squeueJobs} from './__fixtures__/slurm.js';
import {externalPlugin, freshHome, lem, LEM_BIN, lemEnv, type LemRun} from './helpers.js';

const {parse} = createRequire(new URL('../../core/package.json', import.meta.url))('csv-parse/sync') as {
  parse: (text: string, options: {columns: true}) => Array<Record<string, string>>;
};

const missing = slurmMissing();
const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
const fakeServer = fileURLToPath(new URL('./fixtures/campaign-server.mjs', import.meta.url));
const GPUS = ['GPU-aaaaaaaa-0000-0000-0000-000000000000', 'GPU-bbbbbbbb-1111-1111-1111-111111111111'];

let home: string;
let dir: string;
let model: string;
let fake: FakeNvml;
let env: NodeJS.ProcessEnv;
/** Orchestrators a test started; afterEach kills any still running. */
const children: ChildProcess[] = [];

/** A job as manifest.json holds it. */
type Job = JobRecord;
interface Entry {
  key: string;
  cycle: number;
  status: string;
  attempts: number;
  category: string | null;
  code: string | null;
  message: string | null;
  resultPath: string | null;
  history: Array<{attempt: number; status: string}>;
}
interface Manifest {
  status: string;
  entries: Entry[];
  jobs: Job[];
}
interface Result {
  status: string;
  provenance: {slurm: {jobId: string; node: string; partition: string; jobGpus: string | null} | null; host: {hostname: string}};
  metrics: {energy: {channels: Array<{meter: string; channel: string; energyJ: number}>}};
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** A project of its own with the campaign file `<name>.yaml`; gives its folder. */
function project(name: string, body: string): string {
  const cwd = join(dir, name);
  mkdirSync(join(cwd, '.lem-state'), {recursive: true});
  writeFileSync(join(cwd, `${name}.yaml`), `name: ${name}\n${body}`);
  return cwd;
}

/** The slurm: section: the test partition, shared nodes (two job slots), a fast poll. */
const slurmSection = (extra = '') => `executor: slurm\nslurm:\n  partition: lem\n  exclusive: false\n  poll_s: 0.3\n${extra}`;

/** The tiny model on GPU 0 of each job (the fake NVML's), measured by NVML only, so that two jobs on the node's two GPUs share no device. */
const tiny = (prompts = 6, extra = '') =>
  `backend: llamacpp\nmodel: ${model}\ngpus: [0]\ndataset:\n  kind: builtin\n  n_prompts: ${prompts}\n  max_input_tokens: 32\nworkload:\n  concurrency: 2\n  max_output_tokens: 8\n${extra}warmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.3\n  idle_settle_s: 0.1\n  meters: [nvml]\nllamacpp:\n  threads: 1\n  gpu_layers: 0\n`;

const GRID = `sweep:\n  llamacpp.parallel: [1, 2]\ncycles: 3\ngaps:\n  between_experiments_s: 1\n  between_cycles_s: 1\n`;

/** The project's campaigns (folders with a plan.json). */
const campaignIds = (cwd: string) => readdirSync(join(cwd, '.lem-state')).filter((d) => existsSync(join(cwd, '.lem-state', d, 'plan.json')));

/** The campaign's id: the only campaign of the project. */
function campaignId(cwd: string): string {
  const ids = campaignIds(cwd);
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

/** Whether the campaign's state is there yet (while lem is starting it). */
const started = (cwd: string) => campaignIds(cwd).length === 1 && existsSync(join(cwd, '.lem-state', campaignIds(cwd)[0]!, 'journal.jsonl'));

const manifestOf = (cwd: string) => readJson<Manifest>(join(cwd, '.lem-state', campaignId(cwd), 'manifest.json'));
/** The campaign journal's complete lines (lem may be writing the last one while a test reads). */
const journalOf = (cwd: string) =>
  readFileSync(join(cwd, '.lem-state', campaignId(cwd), 'journal.jsonl'), 'utf8')
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as {type: string; key?: string; job?: {id: string; line: number}; decision?: string});

/** The campaign's jobs squeue still lists. */
const queuedOf = (cwd: string) => {
  const prefix = `lem-${campaignId(cwd)}-`;
  return squeueJobs().filter((j) => j.name.startsWith(prefix));
};

/** Real llama.cpp servers of this file's model. */
function servers(): string[] {
  const r = spawnSync('pgrep', ['-af', 'backend-llamacpp/dist/server/main.js'], {encoding: 'utf8'});
  return r.stdout.split('\n').filter((l) => l.includes(model));
}

/** lem in the background (an orchestrator to interrupt or kill), with its output kept. */
function start(args: string[], cwd: string): {child: ChildProcess; exited: Promise<LemRun>} {
  const child = spawn(process.execPath, [LEM_BIN, ...args], {cwd, env: lemEnv(home, env)});
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<LemRun>((resolve) => child.on('close', (status, signal) => resolve({status: status ?? (signal ? 128 + 9 : null), stdout, stderr})));
  return {child, exited};
}

/** lem run to its end (a whole campaign takes longer than `lem`'s 60 s bound). */
async function lemRun(args: string[], cwd: string): Promise<LemRun> {
  return start(args, cwd).exited;
}

/** A refusal before anything runs: exit 2, a stable code, a Try line, no stack trace. */
function expectRefusal(run: LemRun, code: string): void {
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toMatch(new RegExp(`^Error ${code}: `, 'm'));
  expect(run.stderr).toMatch(/^Try: /m);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

/** Polls (bounded) until `check` holds. */
async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Some job of the campaign has journaled the start of a run on the node. */
function aRunStartedInAJob(cwd: string): boolean {
  const jobs = join(cwd, '.lem-state', campaignId(cwd), 'jobs');
  return existsSync(jobs) && readdirSync(jobs).some((f) => f.endsWith('.jsonl') && readFileSync(join(jobs, f), 'utf8').includes('"run-start"'));
}

/** Whether the node takes jobs again; when not, asks Slurm to resume it (later tests need it). */
function nodeBack(node: string): boolean {
  if (/^(idle|mixed|allocated)/.test(slurm('sinfo', '-h', '-o', '%T'))) return true;
  spawnSync('scontrol', ['update', `nodename=${node}`, 'state=resume']);
  return false;
}

/** `StartTime`/`EndTime` of a finished job, in ms (scontrol keeps it MinJobAge = 300 s). */
function jobWindow(id: string): {start: number; end: number} {
  const info = jobInfo(id)!;
  return {start: Date.parse(info.StartTime!), end: Date.parse(info.EndTime!)};
}

/** The fake backend (fixtures/campaign-server.mjs: fails at start, or serves), linked once into the home. */
let fakeLinked = false;
function thresholdProject(name: string): string {
  if (!fakeLinked) {
    const plugin = externalPlugin(
      'lem-backend-slurm-fake',
      `export default async () => [{kind: 'backend', id: 'fake', displayName: 'Fake', gpu: 'none', local: true, jsonSchema: {type: 'object'},
        configSchema: {'~standard': {version: 1, vendor: 'hand', validate: (v) => ({value: v ?? {}})}},
        server: (cfg, ctx) => ({argv: [process.execPath, ${JSON.stringify(fakeServer)}, '--mode', cfg.mode ?? 'ok', '--port', String(ctx.port), '--marker', '/dev/null'], env: {}, port: ctx.port, readiness: {healthPath: '/health', timeoutS: 30}, stop: {signal: 'SIGTERM', graceS: 2}})}];\n`,
    );
    expect(lem(['plugins', 'link', plugin, '--no-install'], {home}).status).toBe(0);
    fakeLinked = true;
  }
  // fail#1 crosses the threshold (1 of 1 failed); job 1 then waits its 2 s gap before ok#1, in which the pause reaches it.
  return project(
    name,
    `${slurmSection('  max_concurrent: 1\n')}sweep:\n  fake.mode: [fail, ok]\ncycles: 3\ngaps:\n  between_experiments_s: 2\n  between_cycles_s: 0\nretry:\n  max_attempts: 0\nfailure_threshold:\n  ratio: 0.3\n  min_finished: 1\nbackend: fake\nmodel: fake\ndataset:\n  kind: builtin\n  n_prompts: 2\nworkload:\n  max_output_tokens: 4\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\n  meters: []\n`,
  );
}

beforeAll(async () => {
  if (missing) return;
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-slurm-campaign-'));
  model = join(dir, 'tiny.gguf');
  const {writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: (p: string, o: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
  fake = compileFakeNvml();
  const script = fake.use({driver: '555.42.06', devices: [{uuid: GPUS[0]!, name: 'Fake H100', powerW: 120}, {uuid: GPUS[1]!, name: 'Fake H100', powerW: 70}]});
  // sbatch hands the submitting environment to the job: the nodes see the same fake GPUs.
  env = {LEM_NVML_LIBRARY: fake.libraryPath, FAKE_NVML_SCRIPT: script};
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (missing) return;
  const ours = squeueJobs().filter((j) => j.name.startsWith('lem-'));
  await cancelJobs(ours.map((j) => j.id));
});

afterAll(() => {
  if (missing) return;
  for (const line of servers()) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  fake.cleanup();
  rmSync(dir, {recursive: true, force: true});
});

describe('the README for cluster users', () => {
  it("plans its worked GPU-partition example, printing every job script (no cluster needed for a dry run)", () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const example = /```yaml\n(name: h100-sweep\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'the README names its Slurm example h100-sweep').toBeDefined();
    const cwd = mkdtempSync(join(tmpdir(), 'lem-readme-slurm-'));
    mkdirSync(join(cwd, '.lem-state'));
    writeFileSync(join(cwd, 'h100-sweep.yaml'), example!);
    const run = lem(['campaign', 'run', 'h100-sweep.yaml', '--dry-run'], {cwd});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('Slurm jobs (5, one per cycle; at most 3 at once)');
    expect(run.stdout).toMatch(/sbatch --parsable .*--partition=gpu --account=my-project --gres=gpu:1 --time=02:00:00 --constraint=h100 --exclusive --mem=64G /);
    expect(run.stdout.match(/--dependency=afterany:<job of cycle \d>/g)).toHaveLength(2);
    expect(run.stdout).toContain('module load nodejs/20');
    rmSync(cwd, {recursive: true, force: true});
  });
});

describe.skipIf(Boolean(missing))(`lem campaign run --executor slurm${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('runs 2 configurations × 3 cycles as one job per cycle, two at once on their own GPUs, with the files of a local campaign', async () => {
    const body = `${slurmSection('  max_concurrent: 2\n  setup:\n    - export LEM_SETUP_RAN=1\n')}${GRID}${tiny()}`;
    const cwd = project('grid', body);
    const run = await lemRun(['campaign', 'run', 'grid.yaml'], cwd);
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/job \d+ \(cycle 3, 2 runs\) submitted/);
    expect(run.stdout).toMatch(/▶ par1 cycle 1 {2}run 1\/6 {2}on \S+, job \d+/);

    const manifest = manifestOf(cwd);
    expect(manifest.status).toBe('completed');
    expect(manifest.entries.map((e) => [e.key, e.status, e.history.length])).toEqual(['par1#1', 'par2#1', 'par1#2', 'par2#2', 'par1#3', 'par2#3'].map((k) => [k, 'completed', 1]));
    // One job per cycle with that cycle's runs; the third waits for the first (max_concurrent 2).
    expect(manifest.jobs.map((j) => [j.cycle, j.keys, j.state, j.exitCode, j.endedAt !== null])).toEqual([1, 2, 3].map((c) => [c, [`par1#${c}`, `par2#${c}`], 'COMPLETED', 0, true]));
    const [j1, j2, j3] = manifest.jobs as [Job, Job, Job];
    expect([j1.after, j2.after, j3.after]).toEqual([null, null, j1.id]);
    expect(jobWindow(j3.id).start).toBeGreaterThanOrEqual(jobWindow(j1.id).end);
    // Cycles 1 and 2 ran at the same time, on the node's two GPUs.
    const [w1, w2] = [jobWindow(j1.id), jobWindow(j2.id)];
    expect(w1.start < w2.end && w2.start < w1.end, JSON.stringify({w1, w2})).toBe(true);

    // Every run keeps its job and node, and was measured on the GPU its job was given (SLURM_JOB_GPUS, a node index).
    const resultsDir = join(cwd, 'results', campaignId(cwd));
    const gpuOfJob = new Map<string, string>();
    for (const entry of manifest.entries) {
      const job = manifest.jobs.find((j) => j.cycle === entry.cycle)!;
      const result = readJson<Result>(join(resultsDir, entry.resultPath!, 'result.json'));
      expect(result.provenance.slurm).toMatchObject({jobId: job.id, node: job.node, partition: 'lem'});
      expect(result.provenance.host.hostname).toBe(hostname());
      const index = result.provenance.slurm!.jobGpus!;
      expect(index).toMatch(/^[01]$/);
      expect(result.metrics.energy.channels.filter((c) => c.meter === 'nvml').map((c) => c.channel)).toEqual([GPUS[Number(index)]]);
      gpuOfJob.set(job.id, index);
    }
    // The two jobs that ran at once had the node's two GPUs.
    expect(new Set([gpuOfJob.get(j1.id), gpuOfJob.get(j2.id)])).toEqual(new Set(['0', '1']));
    expect(queuedOf(cwd)).toEqual([]);
    expect(servers()).toEqual([]);

    // The same file run here: the same files, columns, configurations and run folders.
    const local = project('grid-local', body);
    const here = await lemRun(['campaign', 'run', 'grid-local.yaml', '--executor', 'local'], local);
    expect(here.status, here.stderr).toBe(0);
    const localResults = join(local, 'results', campaignId(local));
    const files = (d: string) => readdirSync(d).sort();
    expect(files(resultsDir)).toEqual(files(localResults));
    for (const csv of ['summary.csv', 'comparisons.csv']) {
      const [a, b] = [parse(readFileSync(join(resultsDir, csv), 'utf8'), {columns: true}), parse(readFileSync(join(localResults, csv), 'utf8'), {columns: true})];
      expect(Object.keys(a[0]!)).toEqual(Object.keys(b[0]!));
      const rows = (x: Array<Record<string, string>>) => x.map((r) => `${r.configuration ?? `${r.configuration_a}/${r.configuration_b}`} ${r.metric}`);
      expect(rows(a)).toEqual(rows(b));
    }
    expect(Object.keys(readJson<object>(join(resultsDir, 'par1-c1-t1', 'result.json'))).sort()).toEqual(Object.keys(readJson<object>(join(localResults, 'par1-c1-t1', 'result.json'))).sort());
    const report = lem(['report', campaignId(cwd)], {home, cwd, env});
    expect(report.status, report.stderr).toBe(0);
  }, 240_000);

  it('Ctrl+C cancels queued and running jobs (exit 130); --detach submits and exits; resume follows the jobs to the end', async () => {
    const cwd = project('stop', `${slurmSection('  max_concurrent: 1\n')}${GRID}${tiny(12)}`);
    const {child, exited} = start(['campaign', 'run', 'stop.yaml'], cwd);
    await until('a run to start in a job', () => started(cwd) && aRunStartedInAJob(cwd));
    expect(queuedOf(cwd).map((j) => j.state)).toEqual(expect.arrayContaining(['RUNNING', 'PENDING']));
    child.kill('SIGINT');
    const stopped = await exited;
    expect(stopped.status, stopped.stderr).toBe(130);
    expect(queuedOf(cwd)).toEqual([]);
    expect(servers()).toEqual([]);
    let manifest = manifestOf(cwd);
    expect(manifest.status).toBe('interrupted');
    expect(manifest.entries.filter((e) => e.status === 'running' || e.status === 'completed' || e.status === 'failed')).toEqual([]);
    expect(manifest.jobs.map((j) => [j.state, j.endedAt !== null])).toEqual([1, 2, 3].map(() => ['CANCELLED', true]));

    const id = campaignId(cwd);
    const detached = await lemRun(['resume', id, '--detach'], cwd);
    expect(detached.status, detached.stderr).toBe(0);
    expect(detached.stderr).toContain(`lem resume ${id}`);
    expect(queuedOf(cwd)).toHaveLength(3);
    // No lem follows the jobs now: `campaign status <id>` merges what they wrote; a running run is not counted as interrupted.
    await until('a run of the new jobs to start', () => readdirSync(join(cwd, '.lem-state', id, 'jobs')).some((f) => !manifestOf(cwd).jobs.slice(0, 3).some((j) => f === `${j.id}.jsonl`) && f.endsWith('.jsonl') && readFileSync(join(cwd, '.lem-state', id, 'jobs', f), 'utf8').includes('"run-start"')));
    const status = lem(['campaign', 'status', id, '--json'], {home, cwd, env});
    expect(status.status, status.stderr).toBe(0);
    const followed = JSON.parse(status.stdout) as {jobs: Job[]; entries: Array<{status: string}>};
    expect(followed.jobs).toHaveLength(6);
    expect(followed.entries.some((e) => e.status === 'running' || e.status === 'completed')).toBe(true);
    const listing = JSON.parse(lem(['campaign', 'status', '--json'], {home, cwd, env}).stdout) as {campaigns: Array<{id: string; interrupted: number; locked: boolean}>};
    expect(listing.campaigns.find((c) => c.id === id)).toMatchObject({interrupted: 0, locked: false});

    const resumed = await lemRun(['resume', id], cwd);
    expect(resumed.status, resumed.stderr).toBe(0);
    manifest = manifestOf(cwd);
    expect(manifest.entries.map((e) => e.status)).toEqual(Array(6).fill('completed'));
    expect(manifest.jobs.slice(3).map((j) => [j.state, j.exitCode])).toEqual([1, 2, 3].map(() => ['COMPLETED', 0]));
    // Every job-journal line was merged once.
    const merged = journalOf(cwd).filter((l) => l.job);
    expect(new Set(merged.map((l) => `${l.job!.id}:${l.job!.line}`)).size).toBe(merged.length);
  }, 240_000);

  it('kill -9 of the orchestrator loses nothing: resume adopts the jobs still running and merges their journals', async () => {
    const cwd = project('killed', `${slurmSection('  max_concurrent: 2\n')}${GRID}${tiny(12)}`);
    const {child, exited} = start(['campaign', 'run', 'killed.yaml'], cwd);
    await until('a run to end in a job and be merged', () => started(cwd) && journalOf(cwd).some((l) => l.type === 'run-end' && l.job));
    child.kill('SIGKILL');
    expect((await exited).status).toBe(137);
    const submitted = manifestOf(cwd).jobs.map((j) => j.id);
    expect(submitted).toHaveLength(3);
    expect(queuedOf(cwd).length).toBeGreaterThan(0);

    const resumed = await lemRun(['resume', campaignId(cwd)], cwd);
    expect(resumed.status, resumed.stderr).toBe(0);
    const manifest = manifestOf(cwd);
    expect(manifest.entries.map((e) => [e.status, e.history.length])).toEqual(Array(6).fill(['completed', 1]));
    // The same three jobs: adopted, not submitted again.
    expect(manifest.jobs.map((j) => j.id)).toEqual(submitted);
    expect(servers()).toEqual([]);
  }, 240_000);

  it('refuses, before anything is created, what cannot run: a misspelt key, an unknown partition, too few GPUs per job, a job the cluster cannot give, no Slurm, a controller that does not answer, --detach here', async () => {
    const cwd = project('refuse', `${slurmSection('  max_concurent: 2\n')}cycles: 2\n${tiny()}`);
    const typo = lem(['campaign', 'run', 'refuse.yaml'], {home, cwd, env});
    expectRefusal(typo, 'E_CONFIG_INVALID');
    expect(typo.stderr).toMatch(/refuse\.yaml:\d+:\d+/);
    expect(typo.stderr).toContain('max_concurent');

    // A bad value from the command line names the flag, not a line of the file that does not hold it.
    const flagged = lem(['campaign', 'run', 'refuse.yaml', '--set', 'slurm.max_concurrent=0'], {home, cwd, env});
    expectRefusal(flagged, 'E_CONFIG_INVALID');
    expect(flagged.stderr).toMatch(/^ {2}slurm\.max_concurrent: .*\(from --set slurm\.max_concurrent=0\)$/m);

    const write = (extra: string) => writeFileSync(join(cwd, 'refuse.yaml'), `name: refuse\n${slurmSection(extra)}cycles: 2\n${tiny()}`);
    writeFileSync(join(cwd, 'refuse.yaml'), `name: refuse\n${slurmSection().replace('partition: lem', 'partition: gpu-h100')}cycles: 2\n${tiny()}`);
    const partition = lem(['campaign', 'run', 'refuse.yaml'], {home, cwd, env});
    expectRefusal(partition, 'E_SLURM_PARTITION');
    expect(partition.stderr).toContain('it has lem');

    write('  gpus_per_job: 0\n');
    const gpus = lem(['campaign', 'run', 'refuse.yaml'], {home, cwd, env});
    expectRefusal(gpus, 'E_SLURM_GPUS');
    expect(gpus.stderr).toMatch(/refuse\.yaml:\d+:\d+/);

    // sbatch --test-only: the node has 2 GPUs, so a job asking for 3 is refused before anything is made.
    write('  gpus_per_job: 3\n');
    const tooMany = lem(['campaign', 'run', 'refuse.yaml'], {home, cwd, env});
    expectRefusal(tooMany, 'E_SLURM_SUBMIT');
    expect(tooMany.stderr).toMatch(/sbatch refused the job: .*not available/);

    write('');
    // No Slurm commands on PATH (lem itself is started by its absolute path).
    const noSlurm = lem(['campaign', 'run', 'refuse.yaml'], {home, cwd, env: {...env, PATH: mkdtempSync(join(tmpdir(), 'lem-empty-path-'))}});
    expectRefusal(noSlurm, 'E_SLURM_MISSING');
    const conf = join(dir, 'unreachable.conf');
    writeFileSync(conf, readFileSync(process.env.SLURM_CONF!, 'utf8').replace(/^SlurmctldPort=.*$/m, 'SlurmctldPort=1'));
    const unreachable = lem(['campaign', 'run', 'refuse.yaml'], {home, cwd, env: {...env, SLURM_CONF: conf}});
    expectRefusal(unreachable, 'E_SLURM_UNREACHABLE');

    const detach = lem(['campaign', 'run', 'refuse.yaml', '--executor', 'local', '--detach'], {home, cwd, env});
    expectRefusal(detach, 'E_DETACH_LOCAL');
    // Nothing was created by any of them.
    expect(readdirSync(join(cwd, '.lem-state')).filter((d) => existsSync(join(cwd, '.lem-state', d, 'plan.json')))).toEqual([]);
  }, 120_000);

  it('a job on a node where a lem job just ended waits out the rest of between_cycles_s before its first run', async () => {
    const cwd = project('gap', `${slurmSection('  max_concurrent: 1\n')}cycles: 2\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 4\n${tiny(4)}`);
    const run = await lemRun(['campaign', 'run', 'gap.yaml'], cwd);
    expect(run.status, run.stderr).toBe(0);
    const [first, second] = manifestOf(cwd).jobs as [Job, Job];
    expect(second.after).toBe(first.id);
    const lines = (id: string) => readFileSync(join(cwd, '.lem-state', campaignId(cwd), 'jobs', `${id}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {type: string; at: string});
    // Job 2 starts as soon as job 1 ends (afterany); its first run waits until 4 s after job 1's end on the node.
    const ended = Date.parse(lines(first.id).at(-1)!.at);
    const started = Date.parse(lines(second.id).find((l) => l.type === 'run-start')!.at);
    expect(started - ended).toBeGreaterThanOrEqual(4000);
    // What the job owed the node: the rest of the 4 s, less the time Slurm and lem took to start it.
    const owed = /gap \{"type":"gap","seconds":([\d.]+),"kind":"cycles"/.exec(readFileSync(join(cwd, '.lem-state', campaignId(cwd), 'jobs', `${second.id}.log`), 'utf8'));
    expect(Number(owed?.[1])).toBeGreaterThan(0);
    expect(Number(owed?.[1])).toBeLessThan(4);
  }, 120_000);

  it('checks the images on the node when a job starts: a missing image fails its runs as config', async (ctx) => {
    // Docker on the node: the CI machine's engine (under CI=true a missing engine fails here).
    const dockerMissing = engineMissing();
    if (dockerMissing) return ctx.skip(dockerMissing);
    const plugin = externalPlugin(
      'lem-backend-slurm-imaged',
      `export default async () => [{kind: 'backend', id: 'imaged', displayName: 'Imaged', gpu: 'none', local: false, jsonSchema: {type: 'object'},
        image: {ref: 'lem-test/absent-on-the-node:0.0.1', dockerfile: '/nonexistent/Dockerfile'},
        configSchema: {'~standard': {version: 1, vendor: 'hand', validate: (v) => ({value: v ?? {}})}},
        server: (cfg, ctx) => ({argv: ['/bin/true'], env: {}, port: ctx.port, readiness: {healthPath: '/health', timeoutS: 5}, stop: {signal: 'SIGTERM', graceS: 1}})}];\n`,
    );
    expect(lem(['plugins', 'link', plugin, '--no-install'], {home}).status).toBe(0);
    try {
      const cwd = project('image', `${slurmSection()}cycles: 1\nbackend: imaged\nrunner: docker\nmodel: some-model\ndataset:\n  kind: builtin\n  n_prompts: 2\nmeasure:\n  meters: []\n`);
      const run = await lemRun(['campaign', 'run', 'image.yaml'], cwd);
      expect(run.status, run.stderr + run.stdout).toBe(1);
      const [entry] = manifestOf(cwd).entries;
      expect([entry!.status, entry!.category, entry!.code]).toEqual(['failed', 'config', 'E_IMAGE_MISSING']);
      expect(entry!.message).toContain('lem-test/absent-on-the-node:0.0.1');
      expect(manifestOf(cwd).jobs.map((j) => [j.state, j.exitCode])).toEqual([['FAILED', 2]]);
    } finally {
      lem(['plugins', 'unlink', 'lem-backend-slurm-imaged'], {home});
    }
  }, 120_000);

  it('adaptive cycles: the conditional cycles wait for the earlier ones, and are never submitted once every CI is narrow enough', async () => {
    const cwd = project('adaptive', `${slurmSection('  max_concurrent: 2\n')}cycles:\n  min: 2\n  max: 4\n  target_ci_pct: 100000\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\n${tiny(4)}`);
    const run = await lemRun(['campaign', 'run', 'adaptive.yaml'], cwd);
    expect(run.status, run.stderr).toBe(0);
    const manifest = manifestOf(cwd);
    expect(manifest.entries.map((e) => [e.key, e.status])).toEqual([['adaptive#1', 'completed'], ['adaptive#2', 'completed'], ['adaptive#3', 'skipped'], ['adaptive#4', 'skipped']]);
    expect(manifest.jobs.map((j) => j.cycle)).toEqual([1, 2]);
    expect(journalOf(cwd).filter((l) => l.type === 'adaptive')).toHaveLength(1);
  }, 120_000);

  it('a job whose setup line fails fails its runs as config, with the line, and is not retried', async () => {
    const cwd = project('setup', `${slurmSection('  setup:\n    - export READY=1\n    - test -d /no/such/module/tree\n')}sweep:\n  llamacpp.parallel: [1, 2]\ncycles: 1\n${tiny()}`);
    const run = await lemRun(['campaign', 'run', 'setup.yaml'], cwd);
    expect(run.status, run.stderr).toBe(1);
    const manifest = manifestOf(cwd);
    expect(manifest.entries.map((e) => [e.status, e.category, e.code])).toEqual([
      ['failed', 'config', 'E_SLURM_SETUP'],
      ['failed', 'config', 'E_SLURM_SETUP'],
    ]);
    expect(manifest.entries[0]!.message).toContain('test -d /no/such/module/tree');
    expect(manifest.jobs.map((j) => [j.state, j.exitCode])).toEqual([['FAILED', 78]]);
    expect(run.stdout).toMatch(/config: E_SLURM_SETUP/);
    // Resume keeps the executor the campaign ran under.
    expectRefusal(lem(['resume', campaignId(cwd), '--executor', 'local'], {home, cwd, env}), 'E_RESUME_EXECUTOR');
  }, 120_000);

  it('the failure threshold counts across jobs: a pause stops dispatch in the running job and holds the queued ones; with no one to ask, lem cancels them and stops (exit 3)', async () => {
    const cwd = thresholdProject('threshold');
    const run = await lemRun(['campaign', 'run', 'threshold.yaml'], cwd);
    expect(run.status, run.stderr + run.stdout).toBe(3);
    const manifest = manifestOf(cwd);
    expect(manifest.status).toBe('stopped');
    // fail#1 crosses the threshold (1 of 1); job 1 sees the stop file after its gap and starts no other run.
    expect(manifest.entries.map((e) => e.status)).toEqual(['failed', 'pending', 'pending', 'pending', 'pending', 'pending']);
    // Cycles 2 and 3 never started: held, then cancelled by lem.
    expect(manifest.jobs.map((j) => [j.cycle, j.state])).toEqual([[1, 'COMPLETED'], [2, 'CANCELLED'], [3, 'CANCELLED']]);
    expect(manifest.jobs.slice(1).every((j) => j.node === null)).toBe(true);
    expect(journalOf(cwd).filter((l) => l.type === 'threshold').map((l) => l.decision)).toEqual(['stop']);
    expect(queuedOf(cwd)).toEqual([]);
  }, 120_000);

  it('on a terminal, the threshold question holds the queued jobs until it is answered; continue releases them and the campaign ends', async () => {
    const cwd = thresholdProject('threshold-tty');
    const pty = spawnPty([process.execPath, LEM_BIN, 'campaign', 'run', 'threshold-tty.yaml'], {cwd, env: lemEnv(home, env), cols: 200});
    await pty.waitFor(/Continue the campaign\?/, 60_000);
    // While the question is open: the running job starts no other run, the queued ones are held.
    expect(existsSync(join(cwd, '.lem-state', campaignId(cwd), 'jobs', 'stop'))).toBe(true);
    const queue = slurm('squeue', '-h', '-o', '%j|%T|%r').split('\n').filter((l) => l.startsWith(`lem-${campaignId(cwd)}-`));
    const pending = queue.filter((l) => l.includes('|PENDING|'));
    expect(pending.map((l) => l.split('|')[0]!.replace(/^.*-c/, 'c')).sort()).toEqual(['c2', 'c3']);
    expect(pending.every((l) => /\|JobHeld(Admin|User)$/.test(l)), pending.join('; ')).toBe(true);
    // Job 1 ends after its gap without starting ok#1 (it saw the stop file); only then the answer.
    await until('job 1 to leave the queue', () => !slurm('squeue', '-h', '-o', '%j').split('\n').includes(`lem-${campaignId(cwd)}-c1`), 30_000);
    pty.write(`${KEYS.down}${KEYS.enter}`);
    expect(await pty.exited, pty.screen()).toBe(1);
    const manifest = manifestOf(cwd);
    expect(manifest.entries.map((e) => [e.key, e.status])).toEqual([1, 2, 3].flatMap((c) => [[`fail#${c}`, 'failed'], [`ok#${c}`, 'completed']]));
    expect(journalOf(cwd).filter((l) => l.type === 'threshold').map((l) => l.decision)).toEqual(['continue']);
    // ok#1, left by job 1 at the pause, ran in a job of its own.
    expect(manifestOf(cwd).jobs.map((j) => [j.cycle, j.keys.length, j.state])).toEqual([[1, 2, 'COMPLETED'], [2, 2, 'COMPLETED'], [3, 2, 'COMPLETED'], [1, 1, 'COMPLETED']]);
  }, 180_000);

  it('a job on a node that fails (NODE_FAIL) fails its run as resource, and the run is retried in a new job', async () => {
    const cwd = project('nodefail', `${slurmSection()}cycles: 1\nretry:\n  max_attempts: 1\n${tiny(20, '  request_rate: 2\n').replace('concurrency: 2', 'concurrency: 1')}`);
    const {exited} = start(['campaign', 'run', 'nodefail.yaml'], cwd);
    await until('the run to start in its job', () => started(cwd) && aRunStartedInAJob(cwd));
    const node = slurm('sinfo', '-h', '-o', '%N');
    try {
      // The node goes down under the running job: Slurm ends it NODE_FAIL (ReturnToService=2 brings the node back when its slurmd registers).
      slurm('scontrol', 'update', `nodename=${node}`, 'state=down', 'reason=lem-test-node-fail');
      const run = await exited;
      expect(run.status, run.stderr + run.stdout).toBe(0);
    } finally {
      await until('the node to be back', () => nodeBack(node), 60_000);
    }
    const manifest = manifestOf(cwd);
    const [entry] = manifest.entries;
    expect(entry!.status).toBe('completed');
    expect(entry!.history.map((h) => [h.attempt, h.status])).toEqual([[1, 'failed'], [2, 'completed']]);
    expect(manifest.jobs.map((j) => j.state)).toEqual(['NODE_FAIL', 'COMPLETED']);
    const journal = journalOf(cwd) as Array<{type: string; code?: string; category?: string}>;
    expect(journal.filter((l) => l.type === 'run-end' && l.code === 'E_SLURM_NODE_FAIL').map((l) => l.category)).toEqual(['resource']);
  }, 120_000);

  it('a preempted job (a job of a higher-priority partition takes the node) leaves its run interrupted, not failed, and a new job runs it', async () => {
    const cwd = project('preempt', `${slurmSection()}cycles: 1\nretry:\n  max_attempts: 0\n${tiny(20, '  request_rate: 2\n').replace('concurrency: 2', 'concurrency: 1')}`);
    const {exited} = start(['campaign', 'run', 'preempt.yaml'], cwd);
    await until('the run to start in its job', () => started(cwd) && aRunStartedInAJob(cwd));
    // lem-urgent has the higher PriorityTier (slurm/cluster.sh, PreemptMode=CANCEL): a whole-node job there preempts lem's.
    const urgent = slurm('sbatch', '--parsable', '--partition=lem-urgent', '--exclusive', `--output=${join(cwd, 'urgent.out')}`, '--wrap', 'sleep 2');
    const run = await exited;
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const manifest = manifestOf(cwd);
    const [entry] = manifest.entries;
    // Not an attempt: with max_attempts 0 a failure would have been final; the preemption is run again.
    expect(entry!.history.map((h) => [h.attempt, h.status])).toEqual([[1, 'interrupted'], [1, 'completed']]);
    expect(manifest.jobs.map((j) => j.state)).toEqual(['PREEMPTED', 'COMPLETED']);
    expect(jobWindow(manifest.jobs[1]!.id).start).toBeGreaterThanOrEqual(jobWindow(urgent).end);
  }, 120_000);

  it('a job killed by its time limit fails its run as runtime (E_SLURM_TIMEOUT), and leaves no server on the node', async () => {
    // A run of ~2 min (one request a second) in a job whose limit is then moved to now (scontrol
    // EndTime=now): Slurm's own enforcement ends it TIMEOUT at its next check (every 30 s), instead
    // of a whole 1-minute limit plus that check.
    const cwd = project('limit', `${slurmSection('  time_limit: "10"\n')}cycles: 1\nretry:\n  max_attempts: 0\nrun_timeout_s: 600\n${tiny(120, '  request_rate: 1\n').replace('concurrency: 2', 'concurrency: 1')}`);
    const {exited} = start(['campaign', 'run', 'limit.yaml'], cwd);
    await until('the run to start in its job', () => started(cwd) && aRunStartedInAJob(cwd));
    slurm('scontrol', 'update', `jobid=${manifestOf(cwd).jobs[0]!.id}`, 'EndTime=now');
    const run = await exited;
    expect(run.status, run.stderr + run.stdout).toBe(1);
    const manifest = manifestOf(cwd);
    expect(manifest.entries.map((e) => [e.status, e.category, e.code, e.attempts])).toEqual([['failed', 'runtime', 'E_SLURM_TIMEOUT', 1]]);
    expect(manifest.entries[0]!.message).toMatch(/reached its time limit \(slurm\.time_limit: 10\)/);
    expect(manifest.jobs.map((j) => j.state)).toEqual(['TIMEOUT']);
    expect(servers()).toEqual([]);
  }, 180_000);
});
