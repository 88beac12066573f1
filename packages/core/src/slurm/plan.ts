/**
 * The Slurm part of a campaign's plan: the `slurm:` keys made concrete (GPUs per job, the
 * command that starts lem on the node), checked against the configurations before anything is
 * submitted.
 */
import {configError} from '../errors.js';
import {shellWord, type ResolvedExperiment} from '../config/resolve.js';
import type {LoadedFile} from '../config/yaml-file.js';
import {slurmSchema, type PlannedSlurm, type SlurmKeys} from './settings.js';

export interface SlurmPlanInput {
  keys: SlurmKeys | undefined;
  configurations: ResolvedExperiment[];
  file: LoadedFile;
  /** How the job starts lem (default: this process's Node binary and script). */
  lemCommand?: string[];
}

export function planSlurm(input: SlurmPlanInput): PlannedSlurm {
  const k = input.keys ?? slurmSchema.parse({});
  const most = Math.max(0, ...input.configurations.map((r) => r.settings.gpus.length));
  const gpusPerJob = k.gpus_per_job ?? most;
  const short = input.configurations.filter((r) => r.settings.gpus.length > gpusPerJob);
  if (short.length > 0) {
    throw configError('E_SLURM_GPUS', `slurm.gpus_per_job is ${gpusPerJob}, but ${short.map((r) => `${r.settings.name} uses ${r.settings.gpus.length}`).join(', ')}`, [
      `slurm: {gpus_per_job: ${most}}   # or remove it: the default is the most any configuration uses`,
    ], [{path: 'slurm.gpus_per_job', message: "fewer GPUs than a configuration's gpus", location: input.file.locate(['slurm', 'gpus_per_job'])}]);
  }
  const lem = k.lem ?? (input.lemCommand ?? [process.execPath, process.argv[1]!]).map(shellWord).join(' ');
  return {
    partition: k.partition ?? null,
    account: k.account ?? null,
    qos: k.qos ?? null,
    gpusPerJob,
    timeLimit: k.time_limit ?? null,
    maxConcurrent: k.max_concurrent,
    constraint: k.constraint ?? null,
    exclusive: k.exclusive,
    extraArgs: k.extra_args,
    setup: k.setup,
    lem,
    pollS: k.poll_s,
  };
}
