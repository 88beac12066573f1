/**
 * The real Slurm cluster, as the CLI's Slurm tests reach it: the Slurm commands on the cluster of
 * SLURM_CONF (slurm/cluster.sh starts one), whether it answers, and what its queue holds. Under
 * CI=true a cluster that does not answer fails the file; elsewhere the file is skipped with the
 * reason. Accounting is off on that cluster, so jobs are followed with squeue and
 * `scontrol show job` (kept MinJobAge = 300 s after they end), never sacct.
 */
import {execFileSync} from 'node:child_process';
import {setTimeout as sleep} from 'node:timers/promises';

/** Runs a Slurm command (sinfo, sbatch, squeue, scontrol, scancel) and gives its trimmed output; throws on a non-zero exit. */
export const slurm = (command: string, ...args: string[]): string =>
  execFileSync(command, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000}).trim();

/** Null when sinfo answers with SLURM_CONF set, else why not (thrown under CI=true). */
export function slurmMissing(): string | null {
  let missing: string | null = null;
  if (process.env.SLURM_CONF) {
    try {
      slurm('sinfo', '-h', '-o', '%T');
    } catch (error) {
      missing = `no Slurm cluster answers with SLURM_CONF=${process.env.SLURM_CONF}: ${(error as Error).message.split('\n')[0]}`;
    }
  } else {
    missing = 'SLURM_CONF is not set (eval "$(slurm/cluster.sh start DIR)" starts a cluster and prints it)';
  }
  if (missing && process.env.CI === 'true') throw new Error(`CI: ${missing}`);
  return missing;
}

/** A job in the queue, as squeue lists it (pending, running, completing…; not the finished). */
export interface QueuedJob {
  id: string;
  /** squeue's long state: PENDING, RUNNING, COMPLETING, … */
  state: string;
  name: string;
}

/** Every job squeue lists now. */
export function squeueJobs(): QueuedJob[] {
  const out = slurm('squeue', '-h', '-o', '%i|%T|%j');
  return out === ''
    ? []
    : out.split('\n').map((line) => {
        const [id = '', state = '', ...name] = line.split('|');
        return {id, state, name: name.join('|')};
      });
}

/**
 * `scontrol show job -d -o <id>` as key → value (JobState, ExitCode, StdOut, GRES with the
 * devices' indices, as `gpu:1(IDX:0)`…); null once Slurm has forgotten the job. Values with
 * spaces (a wrapped command) are cut at the first space.
 */
export function jobInfo(id: string): Record<string, string> | null {
  let out: string;
  try {
    out = slurm('scontrol', 'show', 'job', '-d', '-o', id);
  } catch (error) {
    if (/Invalid job id/i.test(String((error as {stderr?: string}).stderr ?? error))) return null;
    throw error;
  }
  const info: Record<string, string> = {};
  for (const [, key = '', value = ''] of out.matchAll(/(?:^|\s)([\w/:]+)=(\S*)/g)) info[key] ??= value;
  return info;
}

/** The GPU indices Slurm gave a running or finished job (from `GRES=gpu:N(IDX:a-b,c)`). */
export function jobGpuIndices(id: string): number[] {
  const idx = /\(IDX:([^)]*)\)/.exec(jobInfo(id)?.GRES ?? '')?.[1] ?? '';
  return idx.split(',').filter(Boolean).flatMap((part) => {
    const [a = 0, b = a] = part.split('-').map(Number);
    return Array.from({length: b - a + 1}, (_, i) => a + i);
  });
}

/** What waitForJobState saw: the job's record when it reached a wanted state, and every state on the way. */
export interface JobWait {
  job: Record<string, string>;
  /** Each distinct JobState observed, in order (PENDING, RUNNING, …): a state held between two polls is missed. */
  seen: string[];
  polls: number;
}

/**
 * Polls `scontrol show job` every `everyMs` until the job's JobState is one of `states` (RUNNING,
 * COMPLETED, CANCELLED, FAILED, …). Throws after `timeoutMs` with the states it saw.
 */
export async function waitForJobState(id: string, states: string[], timeoutMs = 60_000, everyMs = 100): Promise<JobWait> {
  const deadline = Date.now() + timeoutMs;
  const seen: string[] = [];
  for (let polls = 1; ; polls++) {
    const job = jobInfo(id);
    const state = job?.JobState ?? 'FORGOTTEN';
    if (seen.at(-1) !== state) seen.push(state);
    if (job && states.includes(state)) return {job, seen, polls};
    if (Date.now() > deadline) throw new Error(`job ${id} is not ${states.join('|')} after ${timeoutMs} ms; seen: ${seen.join(' → ')}`);
    await sleep(everyMs);
  }
}

/** Cancels the jobs and waits (bounded) until squeue no longer lists them. */
export async function cancelJobs(ids: string[], timeoutMs = 30_000): Promise<void> {
  if (ids.length === 0) return;
  slurm('scancel', ...ids);
  const deadline = Date.now() + timeoutMs;
  while (squeueJobs().some((j) => ids.includes(j.id))) {
    if (Date.now() > deadline) throw new Error(`jobs ${ids.join(', ')} are still queued ${timeoutMs} ms after scancel`);
    await sleep(100);
  }
}
