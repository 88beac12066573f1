import {describe, expect, it} from 'vitest';
import {z} from 'zod';
import {defineBackend, defineNotifier, isCodedError} from '@lem/plugin-kit';
import {buildRegistry, requireBackend} from './registry.js';

const schema = z.object({}).strict();
const backend = (id: string) =>
  defineBackend({
    id,
    displayName: id.toUpperCase(),
    configSchema: schema,
    jsonSchema: {type: 'object'},
    gpu: 'none',
    local: true,
    server: () => ({argv: ['x'], env: {}, port: 1, readiness: {healthPath: '/', timeoutS: 1}}),
  });
const notifier = defineNotifier({id: 'slack', displayName: 'Slack', configSchema: schema, jsonSchema: {}, render: () => ({url: 'http://127.0.0.1/', body: {}})});
const a = {name: 'plugin-a', version: '1.0.0'};
const b = {name: 'plugin-b', version: '2.0.0'};

describe('buildRegistry', () => {
  it('registers backends and notifiers with the plugin they came from', () => {
    const r = buildRegistry([{plugin: a, result: [backend('alpha'), notifier]}]);
    expect([...r.backends.keys()]).toEqual(['alpha']);
    expect(r.backends.get('alpha')?.plugin).toEqual(a);
    expect([...r.notifiers.keys()]).toEqual(['slack']);
    expect(r.problems).toEqual([]);
  });

  it('reports a hook that threw by plugin name and keeps the others', () => {
    const r = buildRegistry([{plugin: a, error: new Error('boom\nstack')}, {plugin: b, result: [backend('beta')]}]);
    expect(r.problems).toEqual([{plugin: 'plugin-a', code: 'E_PLUGIN_HOOK_FAILED', message: 'plugin plugin-a@1.0.0 failed to register: boom'}]);
    expect([...r.backends.keys()]).toEqual(['beta']);
  });

  it('rejects malformed contributions with a reason', () => {
    const noSchema = {...backend('gamma'), configSchema: {}};
    const badId = backend('Bad_Id');
    const reserved = backend('workload');
    const badApis = {...backend('delta'), apis: ['responses']};
    const badCheck = {...backend('eps'), check: 'strict'};
    const r = buildRegistry([{plugin: a, result: [noSchema, badId, reserved, badApis, badCheck, 42]}, {plugin: b, result: 'nope'}]);
    expect(r.backends.size).toBe(0);
    expect(r.problems.map((p) => p.message)).toEqual([
      'plugin plugin-a@1.0.0: backend "gamma" has no Standard Schema in configSchema (e.g. a zod 4 schema)',
      'plugin plugin-a@1.0.0: backend id "Bad_Id" is not lowercase letters, digits and dashes',
      'plugin plugin-a@1.0.0: backend id "workload" is reserved by lem',
      'plugin plugin-a@1.0.0: backend "delta" has apis ["responses"] (expected a non-empty list of "completions" and "chat")',
      'plugin plugin-a@1.0.0: backend "eps" has a check that is not a function',
      'plugin plugin-a@1.0.0: a contribution is not an object',
      'plugin plugin-b@2.0.0 returned string from lem:register, not an array',
    ]);
  });

  it('reports duplicate ids and refuses to pick one when selected', () => {
    const r = buildRegistry([{plugin: a, result: [backend('alpha')]}, {plugin: b, result: [backend('alpha')]}]);
    expect(r.problems[0]).toMatchObject({code: 'E_PLUGIN_DUPLICATE_ID', plugin: 'plugin-b'});
    expect(r.problems[0]?.message).toContain('plugin-a and plugin-b');
    let error: unknown;
    try {
      requireBackend(r, 'alpha');
    } catch (e) {
      error = e;
    }
    expect(isCodedError(error) && error.code).toBe('E_BACKEND_AMBIGUOUS');
    expect((error as {try: string[]}).try).toEqual(['lem plugins uninstall plugin-b']);
  });
});
