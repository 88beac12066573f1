import {mkdtempSync, mkdirSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {z} from 'zod';
import {defineBackend, defineNotifier, isCodedError, type CodedError, type StandardSchemaV1} from '@lem/plugin-kit';
import {buildRegistry} from '../registry.js';
import {findProjectRoot} from './project.js';
import {formatSource, parseSetFlag, resolveExperiment, resolveProject, type Setting} from './resolve.js';
import {parseYamlText} from './yaml-file.js';

const llamaSchema = z
  .object({threads: z.number().int().positive().optional(), parallel: z.number().int().positive().default(4), context_size: z.number().int().optional()})
  .strict();

const llama = defineBackend({
  id: 'llamacpp',
  displayName: 'llama.cpp',
  configSchema: llamaSchema,
  jsonSchema: z.toJSONSchema(llamaSchema),
  gpu: 'optional',
  local: true,
  server: () => ({argv: ['x'], env: {}, port: 1, readiness: {healthPath: '/health', timeoutS: 1}, tokenizePath: '/tokenize'}),
});

/** A Standard Schema written by hand, as a plugin without zod would: proves core needs no zod instance. */
const handSchema: StandardSchemaV1<unknown, {size: number}> = {
  '~standard': {
    version: 1,
    vendor: 'hand',
    validate(value) {
      const v = value as {size?: unknown};
      if (typeof v !== 'object' || v === null || typeof v.size !== 'number') return {issues: [{message: 'size must be a number', path: [{key: 'size'}]}]};
      return {value: {size: v.size}};
    },
  },
};
const hand = defineBackend({
  id: 'handmade',
  displayName: 'Hand-made',
  configSchema: handSchema,
  jsonSchema: {type: 'object'},
  gpu: 'none',
  local: true,
  server: () => ({argv: ['x'], env: {}, port: 1, readiness: {healthPath: '/health', timeoutS: 1}}),
});

const gpuSchema = z.object({tensor_parallel_size: z.int().min(1).default(1), enforce_eager: z.boolean().default(false), cuda_graph_max_bs: z.int().optional()}).strict();
/** A GPU engine as the engine plugins declare one: chat only, no fixed output length, cross-field rules. */
const gpuEngine = defineBackend({
  id: 'gpueng',
  displayName: 'GPU engine',
  configSchema: gpuSchema,
  jsonSchema: z.toJSONSchema(gpuSchema),
  gpu: 'optional',
  local: true,
  apis: ['chat'],
  fixedOutputLength: false,
  check: (cfg, ctx) => [
    ...(cfg.tensor_parallel_size > ctx.gpus ? [{path: ['tensor_parallel_size'], message: `${cfg.tensor_parallel_size} exceeds the ${ctx.gpus} GPUs given`, try: `gpus: [${[...Array(cfg.tensor_parallel_size).keys()].join(', ')}]`}] : []),
    ...(cfg.enforce_eager && cfg.cuda_graph_max_bs !== undefined ? [{path: ['cuda_graph_max_bs'], message: 'CUDA graphs are off under enforce_eager'}] : []),
  ],
  server: () => ({argv: ['x'], env: {}, port: 1, readiness: {healthPath: '/health', timeoutS: 1}}),
});
const throwingEngine = defineBackend({...gpuEngine, id: 'throwing', apis: undefined, fixedOutputLength: undefined, check: () => { throw new Error('boom'); }});

const slackSchema = z.object({webhook_url: z.url(), mention: z.enum(['none', 'here']).default('none')}).strict();
const slack = defineNotifier({
  id: 'slack',
  displayName: 'Slack',
  configSchema: slackSchema,
  jsonSchema: z.toJSONSchema(slackSchema),
  render: (event, settings) => ({url: settings.webhook_url, body: {text: event.title}}),
});
const noteSchema = z.object({note: z.string().optional(), token: z.string().optional()}).strict();
const noter = defineNotifier({id: 'x', displayName: 'X', configSchema: noteSchema, jsonSchema: {}, render: () => ({url: 'http://127.0.0.1/', body: {}})});

const registry = buildRegistry([
  {plugin: {name: '@lem/notify-slack', version: '0.1.0'}, result: [slack, noter]},
  {plugin: {name: '@lem/backend-llamacpp', version: '0.1.0'}, result: [llama]},
  {plugin: {name: 'handmade-plugin', version: '1.0.0'}, result: [hand]},
  {plugin: {name: '@lem/backend-gpueng', version: '0.1.0'}, result: [gpuEngine, throwingEngine]},
]);

const file = (name: string, text: string) => parseYamlText(text, name);

async function failure(promise: Promise<unknown>): Promise<CodedError> {
  try {
    await promise;
  } catch (error) {
    if (isCodedError(error)) return error;
    throw error;
  }
  throw new Error('expected a coded error');
}

function setting(sources: Setting[], key: string): Setting {
  const found = sources.find((s) => s.key === key);
  if (!found) throw new Error(`no setting ${key} in ${sources.map((s) => s.key).join(', ')}`);
  return found;
}

describe('resolveExperiment precedence', () => {
  const project = file('.lem-config.yaml', 'runner: docker\nresults_dir: out\nllamacpp:\n  parallel: 2\n  threads: 3\n');
  const experiment = file('exp.yaml', 'model: tiny.gguf\nworkload:\n  concurrency: 4\nllamacpp:\n  threads: 1\n');

  it('takes each setting from the highest source that has it, and says which', async () => {
    const r = await resolveExperiment({registry, projectFile: project, experimentFile: experiment, cli: [parseSetFlag('results_dir=elsewhere')]});
    expect(r.settings.runner).toBe('docker');
    expect(formatSource(setting(r.sources, 'runner').source)).toBe('.lem-config.yaml:1:9');
    expect(r.settings.workload.concurrency).toBe(4);
    expect(formatSource(setting(r.sources, 'workload.concurrency').source)).toBe('exp.yaml:3:16');
    expect(r.settings.results_dir).toBe('elsewhere');
    expect(setting(r.sources, 'results_dir').source).toEqual({kind: 'cli', flag: '--set results_dir'});
    expect(r.settings.workload.max_output_tokens).toBe(128);
    expect(setting(r.sources, 'workload.max_output_tokens').source).toEqual({kind: 'default'});
    // Backend sections merge key by key: threads from the experiment, parallel from the project.
    expect(r.backendConfig).toEqual({threads: 1, parallel: 2});
    expect(formatSource(setting(r.sources, 'llamacpp.threads').source)).toBe('exp.yaml:5:12');
    expect(formatSource(setting(r.sources, 'llamacpp.parallel').source)).toBe('.lem-config.yaml:4:13');
  });

  it('uses defaults when nothing else is given, the name from the file name', async () => {
    const r = await resolveExperiment({registry, experimentFile: file('examples/quick.yaml', 'model: m.gguf\n')});
    expect(r.settings.name).toBe('quick');
    expect(r.settings.runner).toBe('local');
    expect(r.settings.backend).toBe('llamacpp');
    expect(r.backendConfig).toEqual({parallel: 4});
    expect(setting(r.sources, 'llamacpp.parallel').source).toEqual({kind: 'default'});
    expect(setting(r.sources, 'measure.baseline_s')).toMatchObject({value: 10, source: {kind: 'default'}});
  });

  it('replaces a dataset of another kind whole instead of mixing keys', async () => {
    const projectDataset = file('.lem-config.yaml', 'dataset:\n  kind: file\n  path: prompts.jsonl\n');
    const r = await resolveExperiment({registry, projectFile: projectDataset, experimentFile: file('e.yaml', 'model: m\ndataset:\n  kind: synthetic\n  input_tokens: 64\n')});
    expect(r.settings.dataset).toEqual({kind: 'synthetic', input_tokens: 64, n_prompts: 100, seed: 0});
    const same = await resolveExperiment({registry, projectFile: projectDataset, experimentFile: file('e.yaml', 'model: m\ndataset:\n  kind: file\n  column: q\n')});
    expect(same.settings.dataset).toMatchObject({kind: 'file', path: 'prompts.jsonl', column: 'q'});
  });

  it('validates a plugin section through Standard Schema only', async () => {
    const ok = await resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nbackend: handmade\nhandmade:\n  size: 3\n')});
    expect(ok.backendConfig).toEqual({size: 3});
    const bad = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nbackend: handmade\nhandmade:\n  size: big\n')}));
    expect(bad.code).toBe('E_CONFIG_INVALID');
    expect(bad.details?.[0]).toMatchObject({path: 'handmade.size', message: 'size must be a number', location: {file: 'e.yaml', line: 4, col: 9}});
  });
});

describe('errors name file:line:col and the key path', () => {
  it('reports an unknown key at the key, with a suggestion', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nworkload:\n  concurency: 2\n')}));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.exitCode).toBe(2);
    expect(e.details).toEqual([{path: 'workload.concurency', message: 'unknown key "concurency" (did you mean "concurrency"?)', location: {file: 'e.yaml', line: 3, col: 3}}]);
    expect(e.try.length).toBeGreaterThan(0);
  });

  it('reports a wrong type at the value', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nworkload:\n  concurrency: many\n')}));
    expect(e.details?.[0]?.path).toBe('workload.concurrency');
    expect(e.details?.[0]?.location).toEqual({file: 'e.yaml', line: 3, col: 16});
    expect(e.details?.[0]?.message).toMatch(/number/);
  });

  it('reports errors inside a backend section with its path', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nllamacpp:\n  threads: -1\n  gpu: yes\n')}));
    expect(e.details?.map((d) => d.path).sort()).toEqual(['llamacpp', 'llamacpp.threads']);
    const threads = e.details!.find((d) => d.path === 'llamacpp.threads')!;
    expect(threads.location).toEqual({file: 'e.yaml', line: 3, col: 12});
  });

  it("refuses, at the key to change, what the backend says its server cannot do", async () => {
    const ok = await resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nbackend: gpueng\ngpus: [0, 1]\nworkload:\n  api: chat\n  fixed_output_length: false\ngpueng:\n  tensor_parallel_size: 2\n')});
    expect(ok.backendConfig).toEqual({tensor_parallel_size: 2, enforce_eager: false});
    const e = await failure(
      resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nbackend: gpueng\ngpus: [0]\ngpueng:\n  tensor_parallel_size: 2\n  enforce_eager: true\n  cuda_graph_max_bs: 8\n')}),
    );
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.details?.map((d) => [d.path, d.message, d.location?.line])).toEqual([
      ['workload.api', 'GPU engine serves `chat` only, not `completions`', 1],
      ['workload.fixed_output_length', 'GPU engine has no request field that holds the output at max_output_tokens', 1],
      ['gpueng.tensor_parallel_size', '2 exceeds the 1 GPUs given', 5],
      ['gpueng.cuda_graph_max_bs', 'CUDA graphs are off under enforce_eager', 7],
    ]);
    expect(e.try).toEqual(['workload.api: chat', 'workload.fixed_output_length: false   # outputs may end early; lem reports the tokens each produced', 'gpus: [0, 1]', 'fix the values shown']);
    const broken = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nbackend: throwing\n')}));
    expect(broken.details?.[0]?.message).toBe("the plugin's check failed: boom");
  });

  it('refuses dataset.max_input_tokens at resolve time (so in a dry run) for a backend whose server has no tokenizer', async () => {
    const text = 'model: m\nbackend: gpueng\ngpus: [0]\nworkload:\n  api: chat\n  fixed_output_length: false\ndataset:\n  kind: builtin\n  max_input_tokens: 64\n';
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', text)}));
    // The code preflight gives it (E_DATASET_NO_TOKENIZER), now located at the key.
    expect(e.code).toBe('E_DATASET_NO_TOKENIZER');
    expect(e.message).toBe("dataset.max_input_tokens needs the server's tokenizer, and backend gpueng exposes none.");
    expect(e.details?.map((d) => [d.path, d.message, d.location?.line])).toEqual([['dataset.max_input_tokens', 'backend gpueng has no tokenize endpoint', 9]]);
    expect(e.try[0]).toBe('remove dataset.max_input_tokens');
    // llama.cpp's server has one.
    const llamaOk = await resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\ndataset:\n  kind: builtin\n  max_input_tokens: 64\n')});
    expect(llamaOk.settings.dataset).toMatchObject({max_input_tokens: 64});
  });

  it("says a GPU-only backend with no GPUs once, at gpus, instead of the plugin's own counts", async () => {
    const gpuOnly = defineBackend({...gpuEngine, id: 'gpuonly', gpu: 'required', apis: undefined, fixedOutputLength: undefined});
    const reg = buildRegistry([{plugin: {name: '@lem/backend-gpuonly', version: '0.1.0'}, result: [gpuOnly]}]);
    const e = await failure(resolveExperiment({registry: reg, experimentFile: file('e.yaml', 'model: m\nbackend: gpuonly\ngpuonly:\n  tensor_parallel_size: 2\n')}));
    expect(e.details?.map((d) => [d.path, d.message])).toEqual([['gpus', 'GPU engine needs a GPU and the experiment gives it none']]);
    expect(e.try[0]).toBe('gpus: [0]   # or a GPU UUID');
  });

  it('points an unknown top-level key at plugins when it may be an uninstalled backend', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nvllm:\n  max_num_seqs: 8\n')}));
    expect(e.details?.[0]?.message).toContain('lem plugins install @lem/backend-vllm');
  });

  it('reports a missing required key at the file', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'workload:\n  concurrency: 2\n')}));
    expect(e.details?.[0]).toMatchObject({path: 'model', location: {file: 'e.yaml', line: 1, col: 1}});
  });

  it('says a required key is missing, at the mapping that should hold it, with the key to add', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'workload:\n  concurrency: 2\n')}));
    expect(e.details).toEqual([{path: 'model', message: 'missing required key "model"', location: {file: 'e.yaml', line: 1, col: 1}}]);
    expect(e.try[0]).toMatch(/^add to e\.yaml: {2}model: <string>/);
  });

  it('places a missing nested key at its parent key, block or flow', async () => {
    for (const text of ['model: m\ndataset:\n  kind: synthetic\n', 'model: m\ndataset: {kind: synthetic}\n']) {
      const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', text)}));
      expect(e.details).toEqual([{path: 'dataset.input_tokens', message: 'missing required key "input_tokens"', location: {file: 'e.yaml', line: 2, col: 1}}]);
      expect(e.try[0]).toMatch(/^add under dataset: in e\.yaml: {2}input_tokens: <number>/);
    }
  });

  it('says a missing dataset kind is missing, with the kinds to choose from', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\ndataset:\n  n_prompts: 3\n')}));
    expect(e.details).toEqual([{path: 'dataset.kind', message: 'missing required key "kind"', location: {file: 'e.yaml', line: 2, col: 1}}]);
    expect(e.try[0]).toBe('add under dataset: in e.yaml:  kind: builtin | synthetic | file | aienergyscore');
    const wrong = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\ndataset: {kind: web}\n')}));
    expect(wrong.details?.[0]).toMatchObject({path: 'dataset.kind', location: {line: 2, col: 17}});
  });

  it('names the flag when the parent of a missing key was set on the command line', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\n'), cli: [parseSetFlag('dataset.kind=synthetic')]}));
    expect(e.details?.[0]).toMatchObject({path: 'dataset.input_tokens', message: 'missing required key "input_tokens" (from --set dataset.kind)'});
    // Quoted: `<` and `[` mean something to the shell.
    expect(e.try[0]).toMatch(/^--set 'dataset\.input_tokens=<number>'/);
  });

  it('refuses rapl with cpu-estimate, which would count CPU energy twice, at measure.meters', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nmeasure:\n  meters: [nvml, rapl, cpu-estimate]\n')}));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.details).toHaveLength(1);
    expect(e.details?.[0]).toMatchObject({path: 'measure.meters', location: {file: 'e.yaml', line: 3, col: 11}});
    expect(e.details?.[0]?.message).toMatch(/twice/);
    expect(e.try).toEqual([
      expect.stringMatching(/^in e\.yaml, measure\.meters: \[nvml, rapl\] {3}# /),
      expect.stringMatching(/^in e\.yaml, measure\.meters: \[nvml, cpu-estimate\] {3}# .*no CPU counter/),
    ]);
    const cli = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\n'), cli: [parseSetFlag('measure.meters=[rapl,cpu-estimate]')]}));
    expect(cli.details?.[0]).toMatchObject({path: 'measure.meters', message: expect.stringContaining('(from --set measure.meters)')});
    expect(cli.try).toEqual([expect.stringMatching(/^--set 'measure\.meters=\[rapl\]' {3}# /), expect.stringMatching(/^--set 'measure\.meters=\[cpu-estimate\]' {3}# /)]);
    for (const meters of ['[rapl]', '[cpu-estimate, nvml]', '[nvml]']) {
      const ok = await resolveExperiment({registry, experimentFile: file('e.yaml', `model: m\nmeasure:\n  meters: ${meters}\n`)});
      expect(ok.settings.measure.meters).toHaveLength(meters.split(',').length);
    }
  });

  it('has idle_settle_s, 2 s by default and never negative', async () => {
    const r = await resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\n')});
    expect(setting(r.sources, 'measure.idle_settle_s')).toMatchObject({value: 2, source: {kind: 'default'}});
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nmeasure:\n  idle_settle_s: -1\n')}));
    expect(e.details?.[0]).toMatchObject({path: 'measure.idle_settle_s', location: {line: 3, col: 18}});
  });

  it('refuses repetition in an experiment and points to campaigns', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\ncycles: 5\n')}));
    expect(e.code).toBe('E_CONFIG_REPETITION');
    expect(e.details?.[0]?.location).toEqual({file: 'e.yaml', line: 2, col: 1});
    expect(e.try.join('\n')).toMatch(/lem campaign run/);
    // What the Try line says to write is a campaign file lem accepts: the experiment as its base.
    expect(e.try.join('\n')).toContain('base: e.yaml, cycles: N');
  });

  it('reports YAML syntax and duplicate keys with positions', () => {
    let error: unknown;
    try {
      file('bad.yaml', 'model: m\nmodel: n\n');
    } catch (e) {
      error = e;
    }
    expect(isCodedError(error) && error.code).toBe('E_CONFIG_YAML');
    expect((error as CodedError).details?.[0]?.location).toEqual({file: 'bad.yaml', line: 2, col: 1});
    expect(() => file('bad.yaml', 'a: [1, 2\n')).toThrow(expect.objectContaining({code: 'E_CONFIG_YAML'}));
  });

  it('attributes a bad CLI value to its flag', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\n'), cli: [{key: 'runner', value: 'cloud', flag: '--runner'}]}));
    expect(e.details?.[0]?.path).toBe('runner');
    expect(e.details?.[0]?.message).toContain('(from --runner)');
  });

  it('names an uninstalled selected backend with the install command', async () => {
    const e = await failure(resolveExperiment({registry, experimentFile: file('e.yaml', 'model: m\nbackend: tensorrt\n')}));
    expect(e.code).toBe('E_BACKEND_NOT_FOUND');
    expect(e.try[0]).toBe('lem plugins install @lem/backend-tensorrt');
  });
});

describe('${ENV} secrets', () => {
  const text = 'notifications:\n  slack:\n    webhook_url: ${SLACK_URL}\n';

  it('substitutes and redacts the value in every reported setting', async () => {
    const secret = 'https://hooks.example/T000/B000/XXXXSECRET';
    const r = await resolveProject({registry, projectFile: file('.lem-config.yaml', text), env: {SLACK_URL: secret}});
    expect((r.settings.notifications.slack as {webhook_url: string}).webhook_url).toBe(secret);
    expect(JSON.stringify(r.sources)).not.toContain('XXXXSECRET');
    expect(setting(r.sources, 'notifications.slack.webhook_url').value).toBe('${SLACK_URL}');
    expect(r.redactor.text(`posting to ${secret} failed`)).toBe('posting to ${SLACK_URL} failed');
  });

  it('fails on an unset variable at its position', async () => {
    const e = await failure(resolveProject({registry, projectFile: file('.lem-config.yaml', text), env: {}}));
    expect(e.code).toBe('E_CONFIG_ENV_UNSET');
    expect(e.details?.[0]).toMatchObject({path: 'notifications.slack.webhook_url', location: {line: 3, col: 18}});
    expect(e.try[0]).toMatch(/^export SLACK_URL=/);
  });

  it('keeps $${ as a literal and redacts literal secret-looking keys', async () => {
    const r = await resolveProject({
      registry,
      projectFile: file('.lem-config.yaml', 'notifications:\n  x:\n    note: "cost $${HOME}"\n    token: abcd1234\n'),
      env: {},
    });
    expect((r.settings.notifications.x as {note: string}).note).toBe('cost ${HOME}');
    expect(setting(r.sources, 'notifications.x.token').value).toBe('[redacted]');
  });
});

describe('notifications', () => {
  it('validates each notifier section by its plugin and applies its defaults', async () => {
    const r = await resolveProject({registry, projectFile: file('.lem-config.yaml', 'notifications:\n  slack:\n    webhook_url: https://hooks.invalid/a\n')});
    expect(r.settings.notifications.slack).toEqual({webhook_url: 'https://hooks.invalid/a', mention: 'none'});
    expect(setting(r.sources, 'notifications.slack.mention').source).toEqual({kind: 'default'});
    const bad = await failure(resolveProject({registry, projectFile: file('.lem-config.yaml', 'notifications:\n  slack:\n    webhook_url: not a url\n')}));
    expect(bad.details?.[0]).toMatchObject({path: 'notifications.slack.webhook_url', location: {line: 3, col: 18}});
  });

  it('names a notifier that is not installed, with the install command', async () => {
    const e = await failure(resolveProject({registry, projectFile: file('.lem-config.yaml', 'notifications:\n  teams:\n    url: x\n')}));
    expect(e.details?.[0]).toMatchObject({path: 'notifications.teams', location: {line: 2, col: 3}});
    expect(e.details?.[0]?.message).toContain('lem plugins install @lem/notify-teams');
  });
});

describe('project root', () => {
  it('is the nearest ancestor with .lem-config.yaml or .lem-state, else cwd; flag and env override', () => {
    const top = mkdtempSync(join(tmpdir(), 'lem-root-'));
    const deep = join(top, 'a', 'b');
    mkdirSync(deep, {recursive: true});
    expect(findProjectRoot({cwd: deep, env: {}})).toEqual({root: deep, reason: 'cwd'});
    mkdirSync(join(top, 'a', '.lem-state'));
    expect(findProjectRoot({cwd: deep, env: {}})).toEqual({root: join(top, 'a'), reason: 'state-dir'});
    writeFileSync(join(top, '.lem-config.yaml'), 'runner: local\n');
    mkdirSync(join(top, 'a', 'b', 'c'));
    // The nearest marker wins: a/.lem-state is nearer than the top's config file.
    expect(findProjectRoot({cwd: join(deep, 'c'), env: {}}).root).toBe(join(top, 'a'));
    expect(findProjectRoot({cwd: deep, env: {LEM_PROJECT_ROOT: top}})).toMatchObject({root: top, reason: 'env', configFile: join(top, '.lem-config.yaml')});
    expect(findProjectRoot({cwd: deep, env: {LEM_PROJECT_ROOT: top}, flag: deep}).reason).toBe('flag');
  });
});

describe('parseSetFlag', () => {
  it('parses values as YAML scalars and rejects malformed input', () => {
    expect(parseSetFlag('workload.concurrency=4')).toEqual({key: 'workload.concurrency', value: 4, flag: '--set workload.concurrency'});
    expect(parseSetFlag('docker.auto_teardown=false').value).toBe(false);
    expect(parseSetFlag('model=a=b').value).toBe('a=b');
    expect(() => parseSetFlag('novalue')).toThrow(expect.objectContaining({code: 'E_USAGE'}));
  });
});
