/**
 * The Slurm cluster the campaign executor's tests will run on (slurm/cluster.sh): lem itself runs
 * in a batch job on the node, a one-GPU job sees one of the node's two GPUs, two one-GPU jobs run
 * at the same time on different GPUs, and scancel leaves nothing queued. Under CI=true a cluster
 * that does not answer fails the file; elsewhere the file is skipped with the reason.
 */
import {mkdtempSync, readFileSync, existsSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {REPO} from './__fixtures__/docker-cli.js';
import {cancelJobs, jobGpuIndices, slurm, slurmMissing, squeueJobs, waitForJobState} from './__fixtures__/slurm.js';

const missing = slurmMissing();
const GPU_ENV = /^(SLURM_JOB_GPUS|CUDA_VISIBLE_DEVICES|SLURM_GPUS_ON_NODE)=(.*)$/gm;
let dir: string;
/** Every job a test submitted; afterEach cancels those still queued. */
let submitted: string[] = [];

beforeAll(() => {
  if (!missing) dir = mkdtempSync(join(tmpdir(), 'lem-slurm-'));
});
afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true});
});
afterEach(async () => {
  const queued = new Set(squeueJobs().map((j) => j.id));
  await cancelJobs(submitted.filter((id) => queued.has(id)));
  submitted = [];
});

/** sbatch with one GPU and the given shell command; gives the job id. Output goes to dir/<id>.out. */
function submit(command: string, ...extra: string[]): string {
  const id = slurm('sbatch', '--parsable', '--job-name=lem-test', '--gres=gpu:1', `--chdir=${dir}`, `--output=${dir}/%j.out`, ...extra, '--wrap', command);
  submitted.push(id);
  return id;
}

/** The job's GPU variables, from the `env` lines its output starts with. */
function gpuEnv(id: string): Record<string, string> {
  const text = readFileSync(join(dir, `${id}.out`), 'utf8');
  return Object.fromEntries([...text.matchAll(GPU_ENV)].map((m) => [m[1], m[2]]));
}

/** Waits (bounded) until the job's output file has a line matching `pattern`. */
async function outputLine(id: string, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const file = join(dir, `${id}.out`);
  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(file) && pattern.test(readFileSync(file, 'utf8')))) {
    if (Date.now() > deadline) throw new Error(`job ${id} wrote no line matching ${pattern} in ${timeoutMs} ms`);
    await sleep(50);
  }
}

const ENV_LINES = `env | grep -E '^(SLURM_JOB_GPUS|CUDA_VISIBLE_DEVICES|SLURM_GPUS_ON_NODE)='`;

describe.skipIf(Boolean(missing))(`a real Slurm cluster${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('runs lem in a one-GPU batch job, which sees one of the two GPUs', () => {
    // --wait: sbatch returns when the job ends, with its exit code.
    const id = slurm('sbatch', '--parsable', '--wait', '--job-name=lem-test', '--gres=gpu:1', `--chdir=${dir}`, `--output=${dir}/%j.out`,
      '--wrap', `${ENV_LINES}; ${process.execPath} ${REPO}/packages/cli/bin/run.js --version`);
    submitted.push(id);
    expect(readFileSync(join(dir, `${id}.out`), 'utf8')).toContain('@lem/cli/');
    const env = gpuEnv(id);
    expect(env.SLURM_GPUS_ON_NODE).toBe('1');
    expect(['0', '1']).toContain(env.SLURM_JOB_GPUS ?? env.CUDA_VISIBLE_DEVICES);
    expect(slurm('scontrol', 'show', 'job', '-o', id)).toMatch(/JobState=COMPLETED .*ExitCode=0:0/);
  });

  it('runs two one-GPU jobs at the same time, on different GPUs', async () => {
    const a = submit(`${ENV_LINES}; exec sleep 120`);
    const b = submit(`${ENV_LINES}; exec sleep 120`);
    const deadline = Date.now() + 30_000;
    let states: Record<string, string> = {};
    for (;;) {
      states = Object.fromEntries(squeueJobs().map((j) => [j.id, j.state]));
      if (states[a] === 'RUNNING' && states[b] === 'RUNNING') break;
      if (Date.now() > deadline) throw new Error(`not both RUNNING after 30 s: ${JSON.stringify(states)}`);
      await sleep(100);
    }
    const [gpusA, gpusB] = [jobGpuIndices(a), jobGpuIndices(b)];
    expect(gpusA).toHaveLength(1);
    expect(gpusB).toHaveLength(1);
    expect([...gpusA, ...gpusB].sort()).toEqual([0, 1]);
    // What each job itself was told agrees with scontrol.
    await outputLine(a, /^SLURM_GPUS_ON_NODE=/m);
    await outputLine(b, /^SLURM_GPUS_ON_NODE=/m);
    const [envA, envB] = [gpuEnv(a), gpuEnv(b)];
    expect(envA.CUDA_VISIBLE_DEVICES ?? envA.SLURM_JOB_GPUS).toBe(String(gpusA[0]));
    expect(envB.CUDA_VISIBLE_DEVICES ?? envB.SLURM_JOB_GPUS).toBe(String(gpusB[0]));
  });

  it('scancel of a running job leaves nothing in squeue', async () => {
    const id = submit('exec sleep 300');
    await waitForJobState(id, ['RUNNING']);
    slurm('scancel', id);
    const {job, seen} = await waitForJobState(id, ['CANCELLED']);
    expect(seen.at(-1)).toBe('CANCELLED');
    expect(job.JobState).toBe('CANCELLED');
    const deadline = Date.now() + 30_000;
    while (squeueJobs().some((j) => j.id === id)) {
      if (Date.now() > deadline) throw new Error(`job ${id} still in squeue 30 s after scancel`);
      await sleep(100);
    }
    expect(squeueJobs().filter((j) => j.id === id)).toEqual([]);
  });
});
