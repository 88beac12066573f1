/**
 * Slurm's own commands, which are its interface for users (no REST daemon is assumed):
 * `sbatch` submits, `squeue` lists what is queued or running, `scontrol show job` says how a job
 * that left the queue ended (kept for MinJobAge), and `sacct` does where accounting is on.
 * Everything runs asynchronously: the orchestrator keeps merging journals while Slurm answers.
 */
import {execFile} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {configError} from '../errors.js';
import type {CampaignPlan} from '../campaign/types.js';
import {jobSubmission} from './script.js';

export interface JobState {
  id: string;
  /** JobState: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, TIMEOUT, CANCELLED, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, …; UNKNOWN when Slurm no longer knows the job. */
  state: string;
  node: string | null;
  reason: string | null;
  exitCode: number | null;
}

/** States in which a job still holds or waits for resources. */
const ACTIVE = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED', 'SUBMITTED']);

export function isActive(state: string): boolean {
  return ACTIVE.has(state);
}

export interface SlurmCommands {
  submit(args: string[], scriptPath: string): Promise<string>;
  /** `sbatch --test-only`: whether the cluster would take the job, submitting nothing (E_SLURM_SUBMIT when not). */
  testSubmit(args: string[], scriptPath: string): Promise<void>;
  /** The state of each job asked for; a job no command knows any more is UNKNOWN. */
  states(ids: readonly string[]): Promise<Map<string, JobState>>;
  cancel(ids: readonly string[]): Promise<void>;
  hold(ids: readonly string[]): Promise<void>;
  release(ids: readonly string[]): Promise<void>;
  /** The cluster's partitions (`sinfo`): also the check that the controller answers. */
  partitions(): Promise<string[]>;
  /** Jobs still queued or running under these names (a submission a kill cut before it was journaled). */
  byName?(names: readonly string[]): Promise<Array<{id: string; name: string}>>;
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
  missing: boolean;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Output> {
  return new Promise((resolve) => {
    execFile(command, args, {env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000}, (error, stdout, stderr) => {
      const e = error as (NodeJS.ErrnoException & {code?: number | string}) | null;
      resolve({code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: String(stdout), stderr: String(stderr), missing: e?.code === 'ENOENT'});
    });
  });
}

function missingError(command: string): Error {
  return configError('E_SLURM_MISSING', `${command} is not on PATH: the slurm executor submits from a host with Slurm's commands (a login node)`, [
    'run lem on a login node of the cluster (where sbatch and squeue work)',
    '--executor local   # run the campaign on this machine instead',
  ]);
}

export function slurmCommands(env: NodeJS.ProcessEnv = process.env): SlurmCommands {
  let sacct: boolean | null = null;
  const must = async (command: string, args: string[]): Promise<Output> => {
    const out = await run(command, args, env);
    if (out.missing) throw missingError(command);
    return out;
  };
  const control = async (verb: 'hold' | 'release', ids: readonly string[]) => {
    if (ids.length > 0) await must('scontrol', [verb, ids.join(',')]);
  };
  return {
    async submit(args, scriptPath) {
      const out = await must('sbatch', ['--parsable', ...args, scriptPath]);
      const id = out.stdout.trim().split(';')[0] ?? '';
      if (out.code !== 0 || !/^\d+$/.test(id)) throw submitError(out, args, scriptPath);
      return id;
    },
    async testSubmit(args, scriptPath) {
      const out = await must('sbatch', ['--test-only', ...args, scriptPath]);
      if (out.code !== 0) throw submitError(out, args, scriptPath);
    },
    async states(ids) {
      const found = new Map<string, JobState>();
      if (ids.length === 0) return found;
      for (const s of await queued(ids, must)) found.set(s.id, s);
      const gone = ids.filter((id) => !found.has(id));
      if (gone.length > 0 && sacct !== false) {
        const rows = await accounted(gone, env);
        sacct = rows !== null;
        for (const s of rows ?? []) found.set(s.id, s);
      }
      for (const id of ids.filter((x) => !found.has(x))) found.set(id, await controlled(id, must));
      return found;
    },
    async cancel(ids) {
      if (ids.length > 0) await must('scancel', [...ids]);
    },
    async partitions() {
      const out = await must('sinfo', ['-h', '-o', '%R']);
      if (out.code !== 0) {
        throw configError('E_SLURM_UNREACHABLE', `the Slurm controller does not answer: ${(out.stderr.trim() || `sinfo exit ${out.code}`).split('\n').join(' ')}`, [
          'sinfo   # should list the partitions; check SLURM_CONF and that slurmctld runs',
          '--executor local   # run the campaign on this machine instead',
        ]);
      }
      return [...new Set(out.stdout.split('\n').map((l) => l.trim()).filter(Boolean))];
    },
    async byName(names) {
      if (names.length === 0) return [];
      const out = await must('squeue', ['-h', '-o', '%i|%j', `--name=${names.join(',')}`]);
      if (out.code !== 0) throw queueError('squeue', out);
      return out.stdout.split('\n').flatMap((line) => {
        const [id, name] = line.trim().split('|');
        return id && name ? [{id, name}] : [];
      });
    },
    hold: (ids) => control('hold', ids),
    release: (ids) => control('release', ids),
  };
}

/** squeue's view of the jobs it still lists (one call for all of them). */
async function queued(ids: readonly string[], must: (c: string, a: string[]) => Promise<Output>): Promise<JobState[]> {
  const out = await must('squeue', ['-h', '-o', '%i|%T|%N|%r', '-j', ids.join(',')]);
  // Every id unknown: squeue says "Invalid job id specified" and exits 1; that is an empty queue.
  if (out.code !== 0 && !/Invalid job id/i.test(out.stderr)) throw queueError('squeue', out);
  return out.stdout.split('\n').flatMap((line) => {
    const [id, state, node, reason] = line.trim().split('|');
    if (!id || !state) return [];
    return [{id, state, node: node || null, reason: reason && reason !== 'None' ? reason : null, exitCode: null}];
  });
}

/** sacct's view (accounting on), or null where accounting is off or sacct is absent. */
async function accounted(ids: readonly string[], env: NodeJS.ProcessEnv): Promise<JobState[] | null> {
  const out = await run('sacct', ['-n', '-X', '-P', '-o', 'JobID,State,NodeList,ExitCode', '-j', ids.join(',')], env);
  if (out.missing || out.code !== 0) return null;
  return out.stdout.split('\n').flatMap((line) => {
    const [id, state, node, exit] = line.trim().split('|');
    if (!id || !state || !ids.includes(id)) return [];
    // `CANCELLED by 0` → CANCELLED
    return [{id, state: state.split(' ')[0]!, node: node && node !== 'None assigned' ? node : null, reason: null, exitCode: exitOf(exit)}];
  });
}

/** `scontrol show job -o`: how a job that left the queue ended, while Slurm keeps it (MinJobAge). */
async function controlled(id: string, must: (c: string, a: string[]) => Promise<Output>): Promise<JobState> {
  const out = await must('scontrol', ['show', 'job', '-o', id]);
  if (out.code !== 0) return {id, state: 'UNKNOWN', node: null, reason: 'Slurm no longer knows the job', exitCode: null};
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(out.stdout)?.[1] ?? null;
  const node = field('NodeList');
  const reason = field('Reason');
  return {id, state: field('JobState') ?? 'UNKNOWN', node: node && node !== '(null)' ? node : null, reason: reason && reason !== 'None' ? reason : null, exitCode: exitOf(field('ExitCode'))};
}

/** `2:0` (exit code, signal) → 2; a job killed by signal n → 128 + n. */
function exitOf(text: string | null | undefined): number | null {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  if (!m) return null;
  return Number(m[2]) > 0 ? 128 + Number(m[2]) : Number(m[1]);
}

function submitError(out: Output, args: string[], scriptPath: string): Error {
  return configError('E_SLURM_SUBMIT', `sbatch refused the job: ${(out.stderr.trim() || out.stdout.trim() || `exit ${out.code}`).split('\n').join(' ')}`, [
    "check the slurm: section (partition, account, qos, gpus_per_job, constraint, extra_args) against `sinfo` and your site's documentation",
    `sbatch ${args.join(' ')} ${scriptPath}   # the same submission by hand`,
  ]);
}

function queueError(command: string, out: Output): Error {
  return configError('E_SLURM_QUEUE', `${command} failed (exit ${out.code}): ${out.stderr.trim().split('\n').join(' ')}`, [
    'check that the Slurm controller answers: sinfo',
    'lem resume <id>   # once it does: the jobs are found again by their ids',
  ]);
}

/**
 * Before anything is created: Slurm's commands are here, the controller answers, the partition
 * exists, and sbatch would take the first cycle's job as lem will submit it (`--test-only`: a
 * GRES, constraint or memory the partition cannot give is refused here, not after the state is made).
 */
export async function checkCluster(plan: CampaignPlan, where: {stateDir: string; projectRoot: string}, commands: SlurmCommands): Promise<void> {
  const partition = plan.slurm!.partition;
  const partitions = await commands.partitions();
  if (partition && !partitions.includes(partition)) {
    throw configError('E_SLURM_PARTITION', `the cluster has no partition ${JSON.stringify(partition)}; it has ${partitions.join(', ') || 'none'}`, [
      `slurm: {partition: ${partitions[0] ?? '<name>'}}   # one of: ${partitions.join(', ')}`,
    ]);
  }
  const first = plan.runs[0];
  if (!first) return;
  const {args, script} = jobSubmission({plan, cycle: first.cycle, keys: plan.runs.filter((r) => r.cycle === first.cycle).map((r) => r.key), ...where});
  const dir = mkdtempSync(join(tmpdir(), 'lem-sbatch-test-'));
  try {
    writeFileSync(join(dir, 'job.sh'), script);
    await commands.testSubmit(args, join(dir, 'job.sh'));
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}
