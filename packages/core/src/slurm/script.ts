/**
 * One cycle's batch job (DESIGN §10): the sbatch options and the script that runs lem on the
 * node. Pure functions of the plan, so `--dry-run` prints exactly what would be submitted.
 */
import {join} from 'node:path';
import {shellWord} from '../config/resolve.js';
import type {CampaignPlan} from '../campaign/types.js';

/** The exit code of a job whose `slurm.setup` line failed (EX_CONFIG): its runs fail as `config`. */
export const SETUP_FAILED_EXIT = 78;
/** The line a failed setup line leaves in the job's output, before the line itself. */
export const SETUP_FAILED_MARK = 'lem: slurm.setup line failed';

export const JOBS_DIR = 'jobs';

export interface JobSubmission {
  /** sbatch's options, the script path last added by the submitter. */
  args: string[];
  script: string;
}

export interface JobInput {
  plan: CampaignPlan;
  cycle: number;
  /** The entries this job runs, in plan order. */
  keys: string[];
  /** The campaign's state folder (absolute; on the shared file system). */
  stateDir: string;
  /** The folder lem runs in on the node: the project root. */
  projectRoot: string;
}

/** Where the n-th job of a cycle's script is written before sbatch reads it. */
export function jobScriptPath(stateDir: string, cycle: number, n: number): string {
  return join(stateDir, JOBS_DIR, `c${cycle}-${n}.sh`);
}

/** The job's name in squeue: the campaign (its id, unique) and the cycle; resume finds a job by it. */
export function jobName(plan: CampaignPlan, cycle: number): string {
  return `lem-${plan.id}-c${cycle}`;
}

export function jobSubmission(input: JobInput): JobSubmission {
  const s = input.plan.slurm!;
  const args = [
    `--job-name=${jobName(input.plan, input.cycle)}`,
    `--output=${join(input.stateDir, JOBS_DIR, '%j.out')}`,
    `--chdir=${input.projectRoot}`,
    '--nodes=1',
    '--ntasks=1',
    // A job Slurm requeues (a node failure) would run its cycle again behind lem's back: lem retries instead, under the campaign's rules.
    '--no-requeue',
    ...(s.partition ? [`--partition=${s.partition}`] : []),
    ...(s.account ? [`--account=${s.account}`] : []),
    ...(s.qos ? [`--qos=${s.qos}`] : []),
    ...(s.gpusPerJob > 0 ? [`--gres=gpu:${s.gpusPerJob}`] : []),
    ...(s.timeLimit ? [`--time=${s.timeLimit}`] : []),
    ...(s.constraint ? [`--constraint=${s.constraint}`] : []),
    ...(s.exclusive ? ['--exclusive'] : []),
    ...s.extraArgs,
  ];
  return {args, script: jobScript(input)};
}

function jobScript(input: JobInput): string {
  const s = input.plan.slurm!;
  const setup = s.setup.map((line) => `{ ${line}\n} || { rc=$?; echo ${shellWord(`${SETUP_FAILED_MARK} (exit`)} "$rc):" ${shellWord(line)} >&2; exit ${SETUP_FAILED_EXIT}; }`);
  const lem = `${s.lem} campaign job ${shellWord(input.stateDir)} --cycle ${input.cycle} --runs ${shellWord(input.keys.join(','))}`;
  return [
    '#!/bin/bash',
    `# lem campaign ${input.plan.id}, cycle ${input.cycle}: ${input.keys.length} run${input.keys.length === 1 ? '' : 's'} (${input.keys.join(', ')})`,
    // No `set -u`: an unset variable in a setup line (or in what it sources, as conda and Lmod
    // scripts do) would end the shell before the line's own failure is reported.
    'set -o pipefail',
    ...(setup.length > 0 ? ['# slurm.setup', ...setup] : []),
    `exec ${lem}`,
    '',
  ].join('\n');
}
