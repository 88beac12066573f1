/**
 * A job's GPUs (DESIGN §10). A configuration's `gpus: [0, 1]` means the job's first and second
 * GPU, whichever the node's are: Slurm names the allocation in `SLURM_JOB_GPUS` (the node's GPU
 * indices, from its GRES) or, where only that is set, `CUDA_VISIBLE_DEVICES`. Each index is
 * mapped to the node's index, which preflight resolves through NVML to the UUID the meters and
 * the server use. UUIDs in `gpus` are kept as written.
 */
import {configError} from '../errors.js';
import type {ResolvedExperiment} from '../config/resolve.js';

/** The node's GPU indices this job holds, or null when Slurm says nothing (no GRES asked). */
export function jobGpuIndices(env: NodeJS.ProcessEnv): number[] | null {
  for (const name of ['SLURM_JOB_GPUS', 'SLURM_STEP_GPUS', 'CUDA_VISIBLE_DEVICES']) {
    const value = env[name]?.trim();
    if (!value) continue;
    const parts = value.split(',').map((p) => p.trim());
    if (parts.every((p) => /^\d+$/.test(p))) return parts.map(Number);
  }
  return null;
}

/**
 * The configuration with its job-relative GPU indices replaced by the node's. `visible` is how
 * many GPUs NVML sees in the job: where Slurm confines the job to its devices (cgroup
 * ConstrainDevices) NVML may see only the job's GPUs, numbered 0..N-1, and a node index would not
 * exist there; the job-relative indices are then already NVML's.
 */
export function mapJobGpus(resolved: ResolvedExperiment, allocation: number[] | null, jobId: string, visible: number | null = null): ResolvedExperiment {
  const gpus = resolved.settings.gpus;
  if (allocation === null || gpus.length === 0) return resolved;
  if (visible !== null && visible >= allocation.length && allocation.some((i) => i >= visible)) return resolved;
  const mapped = gpus.map((g) => {
    const index = typeof g === 'number' ? g : /^\d+$/.test(g.trim()) ? Number(g) : null;
    if (index === null) return g;
    const node = allocation[index];
    if (node === undefined) {
      throw configError('E_SLURM_GPUS', `${resolved.settings.name} asks for GPU ${index} of its job, but job ${jobId} holds ${allocation.length} (node GPUs ${allocation.join(', ')})`, [
        'raise slurm.gpus_per_job, or use job-relative indices 0..N-1 in gpus:',
      ]);
    }
    return node;
  });
  return {...resolved, settings: {...resolved.settings, gpus: mapped}};
}
