import {describe, expect, it} from 'vitest';
import {shellWord, type ResolvedExperiment} from '../config/resolve.js';
import type {LoadedFile} from '../config/yaml-file.js';
import {planSlurm} from './plan.js';
import {slurmSchema} from './settings.js';
import {codedErrorOf} from '../__fixtures__/coded-error.js';

/** A resolved experiment with only what planSlurm reads: its name and gpus. */
function experiment(name: string, gpus: Array<number | string>): ResolvedExperiment {
  return {settings: {name, gpus}} as unknown as ResolvedExperiment;
}

const file = {path: 'c.yaml', data: {}, locate: () => ({file: 'c.yaml', line: 3, col: 5})} as unknown as LoadedFile;

describe('planSlurm', () => {
  it('applies the defaults without a slurm: section', () => {
    const planned = planSlurm({keys: undefined, configurations: [experiment('a', [0]), experiment('b', [0, 1, 2]), experiment('c', [])], file, lemCommand: ['/usr/bin/node', '/opt/lem/run.js']});
    expect(planned).toEqual({
      partition: null,
      account: null,
      qos: null,
      gpusPerJob: 3,
      timeLimit: null,
      maxConcurrent: 1,
      constraint: null,
      exclusive: true,
      extraArgs: [],
      setup: [],
      lem: '/usr/bin/node /opt/lem/run.js',
      pollS: 2,
    });
  });

  it('asks for no GPUs when no configuration lists any', () => {
    expect(planSlurm({keys: undefined, configurations: [experiment('a', [])], file}).gpusPerJob).toBe(0);
    expect(planSlurm({keys: undefined, configurations: [], file}).gpusPerJob).toBe(0);
  });

  it("starts lem with this process's Node binary and script, shell-quoted, unless told", () => {
    const planned = planSlurm({keys: undefined, configurations: [], file});
    expect(planned.lem).toBe(`${shellWord(process.execPath)} ${shellWord(process.argv[1]!)}`);
    expect(planSlurm({keys: undefined, configurations: [], file, lemCommand: ['/opt/my node/node', "it's.js"]}).lem).toBe(`'/opt/my node/node' 'it'\\''s.js'`);
  });

  it('takes slurm.lem as written over any lemCommand', () => {
    const keys = slurmSchema.parse({lem: 'srun --mpi=none lem'});
    expect(planSlurm({keys, configurations: [], file, lemCommand: ['/usr/bin/node', 'x.js']}).lem).toBe('srun --mpi=none lem');
  });

  it('carries every key it is given', () => {
    const keys = slurmSchema.parse({partition: 'gpu', account: 'acc', qos: 'q', gpus_per_job: 4, time_limit: '1:00:00', max_concurrent: 3, constraint: 'h100', exclusive: false, extra_args: ['--mem=64G'], setup: ['module load cuda'], poll_s: 0.5});
    expect(planSlurm({keys, configurations: [experiment('a', [0, 1])], file, lemCommand: ['lem']})).toEqual({
      partition: 'gpu',
      account: 'acc',
      qos: 'q',
      gpusPerJob: 4,
      timeLimit: '1:00:00',
      maxConcurrent: 3,
      constraint: 'h100',
      exclusive: false,
      extraArgs: ['--mem=64G'],
      setup: ['module load cuda'],
      lem: 'lem',
      pollS: 0.5,
    });
  });

  it("refuses gpus_per_job below a configuration's gpus with E_SLURM_GPUS at the key's location", () => {
    const keys = slurmSchema.parse({gpus_per_job: 1});
    const error = codedErrorOf(() => planSlurm({keys, configurations: [experiment('small', [0]), experiment('big', [0, 1])], file}));
    expect(error.code).toBe('E_SLURM_GPUS');
    expect(error.message).toContain('big uses 2');
    expect(error.message).not.toContain('small');
    expect(error.details).toEqual([expect.objectContaining({path: 'slurm.gpus_per_job', location: {file: 'c.yaml', line: 3, col: 5}})]);
    expect(error.try[0]).toContain('gpus_per_job: 2');
  });

  it('refuses gpus_per_job: 0 when any configuration lists a GPU', () => {
    const error = codedErrorOf(() => planSlurm({keys: slurmSchema.parse({gpus_per_job: 0}), configurations: [experiment('a', [0])], file}));
    expect(error.code).toBe('E_SLURM_GPUS');
  });
});

describe('slurmSchema', () => {
  it('fills the defaults', () => {
    expect(slurmSchema.parse({})).toEqual({max_concurrent: 1, exclusive: true, extra_args: [], setup: [], poll_s: 2});
  });

  it('rejects an unknown key', () => {
    const result = slurmSchema.safeParse({partition: 'gpu', partiton: 'gpu'});
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.code).toBe('unrecognized_keys');
  });

  it('rejects a time_limit that is not a Slurm time', () => {
    for (const time_limit of ['soon', '', '1h', '-1', '2-', '1:30:00:00']) {
      expect(slurmSchema.safeParse({time_limit}).success, time_limit).toBe(false);
    }
  });

  it("accepts Slurm's time formats", () => {
    for (const time_limit of ['1', '30:00', '1:30:00', '2-00:00:00', '2-12', '2-12:30']) {
      expect(slurmSchema.safeParse({time_limit}).success, time_limit).toBe(true);
    }
  });

  it('rejects max_concurrent below 1 and a non-positive poll_s', () => {
    expect(slurmSchema.safeParse({max_concurrent: 0}).success).toBe(false);
    expect(slurmSchema.safeParse({poll_s: 0}).success).toBe(false);
    expect(slurmSchema.safeParse({gpus_per_job: 1.5}).success).toBe(false);
  });
});
