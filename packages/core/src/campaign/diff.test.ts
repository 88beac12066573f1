import {createHash} from 'node:crypto';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {project, type Project} from './__fixtures__/planning.js';
import {diffEnvironment} from './environment.js';
import {diffPlans} from './start.js';
import type {PlanEnvironment} from './types.js';

let p: Project;
afterEach(() => p?.remove());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const campaign = (extra = '') =>
  `name: d\nmodel: models/m.gguf\ncycles: 3\nworkload:\n  max_output_tokens: 32\nsweep:\n  workload.concurrency: [1, 4]\n${extra}`;

describe('diffPlans', () => {
  it('finds nothing between two plans of the same file, nor when only unmeasured settings change', async () => {
    p = project({'c.yaml': campaign(), 'models/m.gguf': 'weights'});
    const before = (await p.plan('c.yaml')).plan;
    expect(diffPlans(before, (await p.plan('c.yaml')).plan)).toEqual([]);
    p.write('c.yaml', campaign('description: now described\nresults_dir: elsewhere\nretry: {max_attempts: 3}\n'));
    expect(diffPlans(before, (await p.plan('c.yaml')).plan)).toEqual([]);
  });

  it('names a changed setting of each configuration with its old and new value', async () => {
    p = project({'c.yaml': campaign(), 'models/m.gguf': 'weights'});
    const before = (await p.plan('c.yaml')).plan;
    p.write('c.yaml', campaign().replace('max_output_tokens: 32', 'max_output_tokens: 16'));
    expect(diffPlans(before, (await p.plan('c.yaml')).plan)).toEqual(['conc1: workload.max_output_tokens 32 → 16', 'conc4: workload.max_output_tokens 32 → 16']);
  });

  it('names configurations that are new or no longer planned', async () => {
    p = project({'c.yaml': campaign(), 'models/m.gguf': 'weights'});
    const before = (await p.plan('c.yaml')).plan;
    p.write('c.yaml', campaign().replace('[1, 4]', '[4, 8]'));
    expect(diffPlans(before, (await p.plan('c.yaml')).plan)).toEqual(['configuration conc1 is no longer planned', 'configuration conc8 is new']);
  });

  it('names a change of cycles, order, gaps, and of the seed where the order uses it', async () => {
    p = project({'c.yaml': campaign('order: shuffled\nseed: 1\n'), 'models/m.gguf': 'weights'});
    const before = (await p.plan('c.yaml')).plan;
    p.write('c.yaml', campaign('order: shuffled\nseed: 2\ngaps: {between_cycles_s: 10}\n').replace('cycles: 3', 'cycles: 2'));
    const changes = diffPlans(before, (await p.plan('c.yaml')).plan);
    expect(changes[0]).toBe('cycles: {"count":3,"kind":"fixed"} → {"count":2,"kind":"fixed"}');
    expect(changes[1]).toMatch(/^gaps: \{.*"betweenCyclesS":300.*\} → \{.*"betweenCyclesS":10.*\}$/);
    expect(changes[2]).toBe('seed: 1 → 2');
    expect(changes).toHaveLength(3);
    p.write('c.yaml', campaign('seed: 2\n'));
    const interleaved = (await p.plan('c.yaml')).plan;
    p.write('c.yaml', campaign('seed: 3\n'));
    expect(diffPlans(interleaved, (await p.plan('c.yaml')).plan)).toEqual([]);
  });
});

describe('the plan\'s environment and diffEnvironment', () => {
  it('records the sha256 of every model file and the hash of the prompts each dataset gives', async () => {
    p = project({
      'c.yaml': 'name: e\nmodel: models/m.gguf\ndataset: {kind: file, path: prompts.jsonl}\nsweep:\n  q:\n    - {}\n    - {llamacpp.model_path: models/q8.gguf}\n',
      'models/m.gguf': 'weights of m',
      'models/q8.gguf': 'weights of q8',
      'prompts.jsonl': '{"prompt": "one"}\n{"prompt": "two"}\n',
    });
    const {environment} = (await p.plan('c.yaml')).plan;
    expect(environment.models).toEqual({[join(p.root, 'models/m.gguf')]: sha256('weights of m'), [join(p.root, 'models/q8.gguf')]: sha256('weights of q8')});
    // Over the prompts in the order the dataset's seed gives them.
    expect(Object.values(environment.datasets)).toHaveLength(1);
    expect([sha256('one\u0000two\u0000'), sha256('two\u0000one\u0000')]).toContain(Object.values(environment.datasets)[0]);
    expect(environment.plugins).toEqual([{name: '@lem/backend-llamacpp', version: '0.1.0'}, {name: 'handmade-plugin', version: '1.0.0'}]);
    expect(environment.gpus).toEqual({uuids: [], driverVersion: null});
  });

  it('names a model file or dataset whose content changed, and nothing when none did', async () => {
    p = project({'c.yaml': 'name: e\nmodel: models/m.gguf\ndataset: {kind: file, path: prompts.jsonl}\n', 'models/m.gguf': 'weights', 'prompts.jsonl': '{"prompt": "one"}\n'});
    const before = (await p.plan('c.yaml')).plan.environment;
    expect(diffEnvironment(before, (await p.plan('c.yaml')).plan.environment)).toEqual([]);
    p.write('models/m.gguf', 'other weights');
    p.write('prompts.jsonl', '{"prompt": "uno"}\n');
    const model = join(p.root, 'models/m.gguf');
    expect(diffEnvironment(before, (await p.plan('c.yaml')).plan.environment)).toEqual([
      `model file ${model}: sha256 ${sha256('weights').slice(0, 12)} → ${sha256('other weights').slice(0, 12)}`,
      expect.stringMatching(new RegExp(`^dataset .*prompts\\.jsonl.*: content hash ${sha256('one\u0000').slice(0, 12)} → ${sha256('uno\u0000').slice(0, 12)}$`)),
    ]);
  });

  it('names changed versions, GPUs and driver', () => {
    const before: PlanEnvironment = {lemVersion: '0.1.0', plugins: [{name: 'a', version: '1'}, {name: 'b', version: '1'}], models: {'/m': 'aaaaaaaaaaaaaaaa', '/gone': null}, datasets: {}, gpus: {uuids: ['GPU-1'], driverVersion: '550.1'}};
    const after: PlanEnvironment = {lemVersion: '0.2.0', plugins: [{name: 'a', version: '2'}, {name: 'c', version: '1'}], models: {'/m': 'aaaaaaaaaaaaaaaa'}, datasets: {}, gpus: {uuids: ['GPU-2'], driverVersion: null}};
    expect(diffEnvironment(before, after)).toEqual([
      'lem version 0.1.0 → 0.2.0',
      'plugin a 1 → 2',
      'plugin b 1 → (absent)',
      'plugin c (absent) → 1',
      'GPUs GPU-1 → GPU-2',
      'NVIDIA driver 550.1 → (none)',
    ]);
    expect(diffEnvironment(before, before)).toEqual([]);
  });
});
