import {describe, expect, it} from 'vitest';
import type {ResolvedExperiment} from '../config/resolve.js';
import {jobGpuIndices, mapJobGpus} from './gpus.js';
import {codedErrorOf} from '../__fixtures__/coded-error.js';

/** A resolved experiment with only what mapJobGpus reads: its name and gpus. */
function experiment(gpus: Array<number | string>): ResolvedExperiment {
  return {settings: {name: 'conf-a', gpus, model: 'm'}, backend: null, backendConfig: {}, sources: [], redactor: {}} as unknown as ResolvedExperiment;
}

const UUID_A = 'GPU-8b2c1d3e-0000-1111-2222-333344445555';
const UUID_B = 'GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

describe('jobGpuIndices', () => {
  it('reads the node indices from SLURM_JOB_GPUS', () => {
    expect(jobGpuIndices({SLURM_JOB_GPUS: '0,2'})).toEqual([0, 2]);
    expect(jobGpuIndices({SLURM_JOB_GPUS: '5'})).toEqual([5]);
  });

  it('prefers SLURM_JOB_GPUS over CUDA_VISIBLE_DEVICES', () => {
    expect(jobGpuIndices({SLURM_JOB_GPUS: '2,3', CUDA_VISIBLE_DEVICES: '0,1'})).toEqual([2, 3]);
  });

  it('falls back to CUDA_VISIBLE_DEVICES when Slurm names no GPUs', () => {
    expect(jobGpuIndices({CUDA_VISIBLE_DEVICES: '0,2'})).toEqual([0, 2]);
    expect(jobGpuIndices({SLURM_JOB_GPUS: '', CUDA_VISIBLE_DEVICES: '1'})).toEqual([1]);
  });

  it('tolerates spaces around the indices', () => {
    expect(jobGpuIndices({SLURM_JOB_GPUS: ' 1, 3 '})).toEqual([1, 3]);
  });

  it('says nothing (null) for UUIDs in CUDA_VISIBLE_DEVICES', () => {
    expect(jobGpuIndices({CUDA_VISIBLE_DEVICES: `${UUID_A},${UUID_B}`})).toBeNull();
    expect(jobGpuIndices({CUDA_VISIBLE_DEVICES: '0,GPU-1234'})).toBeNull();
  });

  it('says nothing (null) when every variable is unset or empty', () => {
    expect(jobGpuIndices({})).toBeNull();
    expect(jobGpuIndices({SLURM_JOB_GPUS: '', CUDA_VISIBLE_DEVICES: ''})).toBeNull();
    expect(jobGpuIndices({CUDA_VISIBLE_DEVICES: '   '})).toBeNull();
  });
});

describe('mapJobGpus', () => {
  it('maps job index i to the allocation\'s i-th node GPU', () => {
    const mapped = mapJobGpus(experiment([0, 1]), [4, 6], '123');
    expect(mapped.settings.gpus).toEqual([4, 6]);
    expect(mapJobGpus(experiment([1]), [4, 6], '123').settings.gpus).toEqual([6]);
  });

  it('keeps UUIDs as written and maps the indices beside them', () => {
    expect(mapJobGpus(experiment([UUID_A, 1]), [2, 7], '123').settings.gpus).toEqual([UUID_A, 7]);
  });

  it('changes nothing else and leaves its argument alone', () => {
    const original = experiment([0]);
    const mapped = mapJobGpus(original, [3], '123');
    expect(mapped).not.toBe(original);
    expect(original.settings.gpus).toEqual([0]);
    expect(mapped.settings).toEqual({...original.settings, gpus: [3]});
    expect(mapped.redactor).toBe(original.redactor);
  });

  it('returns the same object without an allocation, or without gpus', () => {
    const original = experiment([0, 1]);
    expect(mapJobGpus(original, null, '123')).toBe(original);
    const none = experiment([]);
    expect(mapJobGpus(none, [0, 1], '123')).toBe(none);
  });

  it('refuses an index beyond the allocation with E_SLURM_GPUS naming the job', () => {
    const error = codedErrorOf(() => mapJobGpus(experiment([0, 2]), [4, 6], '98765'));
    expect(error.code).toBe('E_SLURM_GPUS');
    expect(error.message).toContain('job 98765');
    expect(error.message).toContain('conf-a');
    expect(error.message).toContain('GPU 2');
    expect(error.try.length).toBeGreaterThan(0);
  });

  it('keeps job-relative indices where NVML sees only the job\'s GPUs (a job confined to its devices)', () => {
    // The node's GPU 3 and 5 are the job's; NVML in the job sees 2 devices, numbered 0 and 1.
    expect(mapJobGpus(experiment([1]), [3, 5], '123', 2).settings.gpus).toEqual([1]);
    // NVML sees the whole node (8 GPUs): the node's numbering is NVML's.
    expect(mapJobGpus(experiment([1]), [3, 5], '123', 8).settings.gpus).toEqual([5]);
    // Unknown (NVML unavailable): the node's numbering.
    expect(mapJobGpus(experiment([0]), [3], '123', null).settings.gpus).toEqual([3]);
  });
});
