import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {testPlan} from '../campaign/__fixtures__/plan.js';
import type {CampaignPlan} from '../campaign/types.js';
import {jobName, jobScriptPath, jobSubmission, JOBS_DIR, SETUP_FAILED_EXIT, SETUP_FAILED_MARK, type JobInput} from './script.js';
import type {PlannedSlurm} from './settings.js';

/** The Slurm settings with nothing optional set: no partition, account, qos, GPUs, time limit, constraint. */
function bare(over: Partial<PlannedSlurm> = {}): PlannedSlurm {
  return {partition: null, account: null, qos: null, gpusPerJob: 0, timeLimit: null, maxConcurrent: 1, constraint: null, exclusive: false, extraArgs: [], setup: [], lem: '/opt/lem/bin/lem', pollS: 2, ...over};
}

function planWith(slurm: PlannedSlurm): CampaignPlan {
  return testPlan('sl-20250101T000000Z', ['a', 'b'], 2, {executor: 'slurm', slurm});
}

function input(slurm: PlannedSlurm, over: Partial<JobInput> = {}): JobInput {
  return {plan: planWith(slurm), cycle: 1, keys: ['a#1', 'b#1'], stateDir: '/shared/proj/.lem-state/sl-20250101T000000Z', projectRoot: '/shared/proj', ...over};
}

describe('jobName and jobScriptPath', () => {
  it('names the job by campaign id and cycle', () => {
    expect(jobName(planWith(bare()), 3)).toBe('lem-sl-20250101T000000Z-c3');
  });

  it('puts the n-th script of a cycle under <stateDir>/jobs', () => {
    expect(jobScriptPath('/s/camp', 2, 1)).toBe(join('/s/camp', JOBS_DIR, 'c2-1.sh'));
    expect(jobScriptPath('/s/camp', 2, 4)).toBe('/s/camp/jobs/c2-4.sh');
  });
});

describe('jobSubmission: sbatch options', () => {
  it('asks for one task on one node and no requeue, names the job, writes output under the jobs folder, runs in the project root', () => {
    const {args} = jobSubmission(input(bare()));
    expect(args).toEqual([
      '--job-name=lem-sl-20250101T000000Z-c1',
      '--output=/shared/proj/.lem-state/sl-20250101T000000Z/jobs/%j.out',
      '--chdir=/shared/proj',
      '--nodes=1',
      '--ntasks=1',
      '--no-requeue',
    ]);
  });

  it('adds partition, account, qos, constraint and time only when set', () => {
    const {args} = jobSubmission(input(bare({partition: 'gpu', account: 'proj42', qos: 'long', constraint: 'h100', timeLimit: '2-00:00:00'})));
    expect(args).toContain('--partition=gpu');
    expect(args).toContain('--account=proj42');
    expect(args).toContain('--qos=long');
    expect(args).toContain('--constraint=h100');
    expect(args).toContain('--time=2-00:00:00');
    const none = jobSubmission(input(bare())).args;
    for (const flag of ['--partition', '--account', '--qos', '--constraint', '--time', '--gres', '--exclusive']) {
      expect(none.some((a) => a.startsWith(flag))).toBe(false);
    }
  });

  it('asks for --gres=gpu:N only when the job needs GPUs', () => {
    expect(jobSubmission(input(bare({gpusPerJob: 4}))).args).toContain('--gres=gpu:4');
    expect(jobSubmission(input(bare({gpusPerJob: 0}))).args.filter((a) => a.startsWith('--gres'))).toEqual([]);
  });

  it('asks for --exclusive only when exclusive', () => {
    expect(jobSubmission(input(bare({exclusive: true}))).args).toContain('--exclusive');
    expect(jobSubmission(input(bare({exclusive: false}))).args).not.toContain('--exclusive');
  });

  it('appends extra_args verbatim, last', () => {
    const extra = ['--mem=64G', '--mail-type=END', '--comment=a b'];
    const {args} = jobSubmission(input(bare({partition: 'gpu', gpusPerJob: 2, exclusive: true, extraArgs: extra})));
    expect(args.slice(-3)).toEqual(extra);
    expect(args.indexOf('--exclusive')).toBeLessThan(args.indexOf('--mem=64G'));
  });
});

describe('jobSubmission: the batch script', () => {
  it('starts with #!/bin/bash and ends with the exec of lem for the cycle and its runs', () => {
    const {script} = jobSubmission(input(bare({lem: "'/opt/my node/node' /opt/lem/run.js"}), {cycle: 2, keys: ['a#2', 'b#2']}));
    const lines = script.trimEnd().split('\n');
    expect(lines[0]).toBe('#!/bin/bash');
    expect(lines.at(-1)).toBe("exec '/opt/my node/node' /opt/lem/run.js campaign job /shared/proj/.lem-state/sl-20250101T000000Z --cycle 2 --runs 'a#2,b#2'");
    expect(script.endsWith('\n')).toBe(true);
  });

  it('quotes a state folder that needs it', () => {
    const {script} = jobSubmission(input(bare(), {stateDir: "/shared/it's here", keys: ['a#1']}));
    expect(script.trimEnd().split('\n').at(-1)).toBe(`exec /opt/lem/bin/lem campaign job '/shared/it'\\''s here' --cycle 1 --runs 'a#1'`);
  });

  it('has no setup section without setup lines', () => {
    const {script} = jobSubmission(input(bare()));
    expect(script).not.toContain('slurm.setup');
    expect(script).not.toContain(`exit ${SETUP_FAILED_EXIT}`);
  });

  it('wraps each setup line so that its failure exits 78 with the mark and the line', () => {
    const setup = ['module load cuda/12.4', "source '/opt/env x/activate'"];
    const {script} = jobSubmission(input(bare({setup})));
    expect(SETUP_FAILED_EXIT).toBe(78);
    for (const line of setup) {
      const at = script.indexOf(`{ ${line}\n}`);
      expect(at).toBeGreaterThan(0);
      const handler = script.slice(at + line.length + 4).split('\n')[0]!;
      expect(handler).toMatch(/^ \|\| \{ rc=\$\?; echo .*; exit 78; \}$/);
      expect(handler).toContain(`'${SETUP_FAILED_MARK} (exit'`);
    }
    // The setup runs before lem: the exec is the last line.
    expect(script.indexOf('module load')).toBeLessThan(script.indexOf('exec '));
  });
});

describe('jobSubmission: the script run by bash', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lem-slurm-script-'));
  });
  afterEach(() => rmSync(dir, {recursive: true, force: true}));

  /** Writes the job's script (its lem replaced by `printf '%s\n'`, which prints each argument) and runs it. */
  function run(setup: string[], keys = ['a#1', 'b#1']) {
    const stateDir = join(dir, 'state dir');
    const {script} = jobSubmission(input(bare({setup, lem: "printf '%s\\n'"}), {stateDir, keys, cycle: 1}));
    const path = join(dir, 'job.sh');
    writeFileSync(path, script, {mode: 0o755});
    const env = {...process.env};
    delete env.A;
    delete env.LEM_TEST_UNSET_VAR;
    const result = spawnSync('bash', [path], {cwd: dir, encoding: 'utf8', env});
    return {...result, stateDir};
  }

  it('runs the setup lines in the job shell, then execs lem with its arguments intact', () => {
    const r = run(['export A=1', 'test "$A" = 1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['campaign', 'job', r.stateDir, '--cycle', '1', '--runs', 'a#1,b#1', '']);
  });

  it('stops at the first failing setup line with exit 78, the mark and the line, and never reaches lem', () => {
    const r = run(['true', 'false', 'echo never']);
    expect(r.status).toBe(SETUP_FAILED_EXIT);
    expect(r.stderr).toContain(SETUP_FAILED_MARK);
    expect(r.stderr.trim()).toBe(`${SETUP_FAILED_MARK} (exit 1): false`);
    expect(r.stdout).not.toContain('never');
    expect(r.stdout).not.toContain('campaign');
  });

  // A setup line that expands an unset variable (or sources a script that does, as conda's and
  // Lmod's activation scripts may) fails as that line, with its mark: under `set -u` bash would end
  // the shell before the handler ran, and the runs would be settled as `runtime`, not `config`.
  it('fails a setup line that expands an unset variable as a setup failure (78), not by killing the shell', () => {
    const r = run(['test -n "$LEM_TEST_UNSET_VAR"', 'echo never']);
    expect(r.stdout).not.toContain('never');
    expect(r.status).toBe(SETUP_FAILED_EXIT);
    expect(r.stderr).toContain(SETUP_FAILED_MARK);
  });
});
