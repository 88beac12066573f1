import {describe, expect, it} from 'vitest';
import {defineBackend, type StandardSchemaV1} from '@lem/plugin-kit';
import {backend as llamacpp} from '../../../../plugins/backend-llamacpp/dist/index.js';
import {buildRegistry} from '../registry.js';
import {formatSource, resolveExperiment, unknownSettingKey, type Setting} from './resolve.js';
import {parseYamlText} from './yaml-file.js';

/** Takes any mapping as it is, as a plugin with free-form sections might. */
const passThrough: StandardSchemaV1<unknown, unknown> = {'~standard': {version: 1, vendor: 'hand', validate: (value) => ({value: value ?? {}})}};
const free = defineBackend({
  id: 'free',
  displayName: 'Free',
  configSchema: passThrough,
  jsonSchema: {type: 'object'},
  gpu: 'none',
  local: true,
  server: () => ({argv: ['true'], env: {}, port: 1, readiness: {healthPath: '/health', timeoutS: 1}}),
});
const registry = buildRegistry([
  {plugin: {name: '@lem/backend-llamacpp', version: '0.1.0'}, result: [llamacpp]},
  {plugin: {name: 'free', version: '1.0.0'}, result: [free]},
]);

const from = (sources: Setting[], key: string) => {
  const found = sources.filter((s) => s.key === key);
  return found.map((s) => formatSource(s.source));
};

describe('unknownSettingKey', () => {
  it.each([
    ['workload.concurency', 'unknown key "concurency" (did you mean "concurrency"?)'],
    ['measure.baselin_s', 'unknown key "baselin_s" (did you mean "baseline_s"?)'],
    ['docker.stratgy', 'unknown key "stratgy" (did you mean "strategy"?)'],
    ['llamacpp.paralel', 'unknown key "paralel" (did you mean "parallel"?)'],
    ['gaps.cooldown.delta_x', 'unknown key "delta_x" (did you mean "delta_c"?)'],
    ['workload.nothing_like_it', 'unknown key "nothing_like_it"'],
  ])('says %s names no setting', (key, message) => {
    expect(unknownSettingKey(registry, key)).toBe(message);
  });

  it.each(['workload.concurrency', 'llamacpp.model_path', 'measure.meters', 'gaps.cooldown.delta_c', 'model', 'dataset.path', 'dataset.anything', 'free.whatever', 'workload.concurrency.deeper'])(
    'accepts %s, or cannot tell (a union, a free-form section, below a scalar)',
    (key) => {
      expect(unknownSettingKey(registry, key)).toBeNull();
    },
  );
});

describe('sources', () => {
  it('are located per file, however many resolutions came before', async () => {
    const one = await resolveExperiment({registry, experimentFile: parseYamlText('model: m\nworkload:\n  concurrency: 2\n', 'one.yaml')});
    const two = await resolveExperiment({registry, experimentFile: parseYamlText('model: m\n\nworkload:\n  api: chat\n  concurrency: 2\n', 'two.yaml')});
    expect(from(one.sources, 'workload.concurrency')).toEqual(['one.yaml:3:16']);
    expect(from(two.sources, 'workload.concurrency')).toEqual(['two.yaml:5:16']);
    expect(from(two.sources, 'workload.api')).toEqual(['two.yaml:4:8']);
    expect(from(one.sources, 'workload.api')).toEqual(['default']);
  });

  it('tell a key holding a dot from the same dotted path written as nested keys', async () => {
    const projectFile = parseYamlText('free:\n  labels:\n    a:\n      b: 2\n', '.lem-config.yaml');
    const experimentFile = parseYamlText('model: m\nbackend: free\nfree:\n  labels:\n    "a.b": 1\n', 'e.yaml');
    const r = await resolveExperiment({registry, projectFile, experimentFile});
    expect(r.backendConfig).toEqual({labels: {a: {b: 2}, 'a.b': 1}});
    const labels = r.sources.filter((s) => s.key === 'free.labels.a.b');
    expect(labels.map((s) => [s.value, formatSource(s.source)])).toEqual([
      [2, '.lem-config.yaml:4:10'],
      [1, 'e.yaml:5:12'],
    ]);
    // And the other way round: the dotted key below, the nested keys above.
    const swapped = await resolveExperiment({
      registry,
      projectFile: parseYamlText('free:\n  labels:\n    "a.b": 1\n', '.lem-config.yaml'),
      experimentFile: parseYamlText('model: m\nbackend: free\nfree:\n  labels:\n    a:\n      b: 2\n', 'e.yaml'),
    });
    expect(swapped.sources.filter((s) => s.key === 'free.labels.a.b').map((s) => [s.value, formatSource(s.source)])).toEqual([
      [1, '.lem-config.yaml:3:12'],
      [2, 'e.yaml:6:10'],
    ]);
  });

  it('redact secrets in every resolution that has them', async () => {
    const r = await resolveExperiment({registry, experimentFile: parseYamlText('model: m\ndescription: "${LEM_T_KEY}"\n', 'e.yaml'), env: {LEM_T_KEY: 'a-secret-value'}});
    expect(r.settings.description).toBe('a-secret-value');
    expect(r.sources.find((s) => s.key === 'description')?.value).toBe('${LEM_T_KEY}');
    const plain = await resolveExperiment({registry, experimentFile: parseYamlText('model: m\ndescription: a-secret-value\n', 'e.yaml')});
    expect(plain.sources.find((s) => s.key === 'description')?.value).toBe('a-secret-value');
  });
});
